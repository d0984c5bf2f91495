"""`POST /webhooks/twilio`: Twilio's status callbacks and the messages contacts
send to our numbers (`shared/services/twilio.py`). Public: Twilio signs each
request (`X-Twilio-Signature`) with the account's auth token; an unsigned or
wrongly signed one is a 401, with nothing stored.

Twilio signs the URL it requested. Behind a proxy that is not the URL this
process sees, so the signature is checked against GOALFLOW_PUBLIC_URL with the
request's path and query: set it to the address Twilio is given."""

from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from api.deps import ServicesDep
from api.errors import error
from shared.domain.twilio import WEBHOOK_PATH
from shared.services import twilio

router = APIRouter(tags=["webhooks"])

# TwiML that sends no reply.
NO_REPLY = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
_FIELDS = ("MessageSid", "AccountSid", "MessageStatus", "ErrorCode", "From", "To", "Body", "OptOutType")
# What Twilio posts, as the OpenAPI tells it: its signature, and form fields,
# strings all, more than these.
FORM: dict[str, Any] = {
    "parameters": [
        {
            "name": "X-Twilio-Signature",
            "in": "header",
            "required": True,
            "schema": {"type": "string"},
            "description": "Base64 HMAC-SHA1 of the URL and the sorted form fields, under the auth token",
        }
    ],
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "properties": {name: {"type": "string"} for name in _FIELDS},
                    "additionalProperties": {"type": "string"},
                }
            }
        },
    },
}


@router.post(
    WEBHOOK_PATH,
    response_class=Response,
    openapi_extra=FORM,
    responses={
        200: {
            "content": {"text/xml": {"schema": {"type": "string"}}},
            "description": "Recorded: TwiML, no reply",
        },
        **error(401, "Not signed by Twilio with GOALFLOW_TWILIO_AUTH_TOKEN (or it is unset)"),
    },
)
async def twilio_webhook(request: Request, services: ServicesDep) -> Response:
    """A message's status (`MessageStatus`: `delivered` → `sms.delivered`,
    `undelivered`/`failed` → `sms.failed`), or a message a contact sent: an
    opt-out word → `sms.unsubscribed`, an opt-in word → `sms.resubscribed`,
    anything else → `sms.replied`. Unknown messages and numbers are acknowledged."""
    body = (await request.body()).decode(errors="replace")
    params = parse_qsl(body, keep_blank_values=True)
    query = request.url.query
    url = f"{services.public_url}{request.url.path}" + (f"?{query}" if query else "")
    if not await twilio.receive(services, url, params, request.headers.get("X-Twilio-Signature")):
        raise HTTPException(401, "not signed by Twilio with this account's auth token")
    return Response(NO_REPLY, media_type="text/xml")
