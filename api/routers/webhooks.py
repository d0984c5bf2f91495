"""Email providers' webhooks: public, for the provider's signature is the key
(401 without it, nothing stored). Anything signed gets 200, an event about no
known message included (kept as ignored), so that no provider retries in vain;
a signed body that is not the provider's format at all gets 400."""

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request

from api.deps import ServicesDep
from api.errors import Responses, error, too_large
from shared.domain.limits import DEFINITION_BYTES
from shared.services import webhooks
from shared.services.webhooks import Received

router = APIRouter(prefix="/webhooks", tags=["webhooks"])

_FORMS = ("multipart/form-data", "application/x-www-form-urlencoded")
_ANSWERS: Responses = {
    200: {
        "model": Received,
        "description": "Verified: the events recorded, and those about no known message",
    },
    **error(400, "Signed, but not the provider's format"),
    **error(401, "No valid signature (or credentials) of the provider: nothing stored"),
    **too_large(DEFINITION_BYTES, "The request body"),
    **error(503, "The database, Temporal or Amazon SNS did not answer; the provider tries again"),
}


def _body(*media: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    """The request body in the OpenAPI: the route reads it raw, as its signature needs."""
    content = {kind: {"schema": schema} for kind, schema in media}
    return {"requestBody": {"required": True, "content": content}}


_OBJECT = {"type": "object"}
_FORM = {"type": "object", "additionalProperties": {"type": "string"}}


def _form_post(request: Request) -> bool:
    return request.headers.get("content-type", "").split(";")[0].strip().lower() in _FORMS


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


@router.post(
    "/mailgun",
    responses=_ANSWERS,
    openapi_extra=_body(("application/json", _OBJECT), *((kind, _FORM) for kind in _FORMS)),
)
async def mailgun(request: Request, services: ServicesDep) -> Received:
    """Mailgun's webhooks (JSON), and its routes' forwards of inbound mail (form
    posts): a reply records `email.replied`. Signed with the webhook signing key."""
    if _form_post(request):
        return await webhooks.mailgun_route(services, await _form(request))
    return await webhooks.mailgun_webhook(services, await request.body())


@router.post(
    "/sendgrid",
    responses=_ANSWERS,
    openapi_extra=_body(("application/json", {"type": "array"}), ("multipart/form-data", _FORM)),
)
async def sendgrid(
    request: Request,
    services: ServicesDep,
    signature: Annotated[str | None, Header(alias="X-Twilio-Email-Event-Webhook-Signature")] = None,
    timestamp: Annotated[str | None, Header(alias="X-Twilio-Email-Event-Webhook-Timestamp")] = None,
    key: Annotated[
        str | None, Query(description="Inbound Parse posts: GOALFLOW_SENDGRID_INBOUND_KEY")
    ] = None,
) -> Received:
    """SendGrid's signed Event Webhook (JSON), and Inbound Parse posts (form),
    whose URL carries `?key=`: a reply records `email.replied`."""
    if _form_post(request):
        return await webhooks.sendgrid_inbound(services, key, await _form(request))
    return await webhooks.sendgrid_events(services, await request.body(), signature, timestamp)


@router.post("/postmark", responses=_ANSWERS, openapi_extra=_body(("application/json", _OBJECT)))
async def postmark(
    request: Request,
    services: ServicesDep,
    authorization: Annotated[
        str | None, Header(description="Basic: the webhook URL's user and password")
    ] = None,
) -> Received:
    """Postmark's webhooks and inbound mail (a reply records `email.replied`),
    with basic auth in the webhook's URL."""
    return await webhooks.postmark_post(services, authorization, await request.body())


@router.post(
    "/ses",
    responses=_ANSWERS,
    openapi_extra=_body(("text/plain", {"type": "string"}), ("application/json", _OBJECT)),
)
async def ses(request: Request, services: ServicesDep) -> Received:
    """Amazon SES events through an Amazon SNS topic: SNS-signed notifications,
    and the subscription's confirmation, which goalflow confirms."""
    return await webhooks.ses_post(services, await request.body())
