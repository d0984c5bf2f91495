"""Twilio, as the tests meet it: its Messages API served on loopback, and the
requests Twilio makes to us (status callbacks, inbound messages), signed as
Twilio signs them.

The Messages resource follows Twilio's own OpenAPI description
(github.com/twilio/twilio-oai, spec/json/twilio_api_v2010.json, at d50069b):
`POST /2010-04-01/Accounts/{AccountSid}/Messages.json`, form-encoded, under
HTTP basic auth (`accountSid_authToken`), `To` required, answered 201 with the
message resource (its `create` example's fields, `status` "queued"); `ContentSid`
matches `^HX[0-9a-fA-F]{32}$`. Errors are Twilio's JSON error
(`code`, `message`, `more_info`, `status`) with its documented codes
(twilio.com/docs/api/errors): 20003 authenticate, 21211 invalid To, 21602 body
required, 21604 To required, 21603 From required, 21610 unsubscribed
recipient, 21617 body over 1,600 characters, 21655 ContentSid invalid, 21656
ContentVariables invalid, 21910 From and To of different channels.

The signature is written here from Twilio's description
(twilio.com/docs/usage/security), apart from goalflow's, and checked against
Twilio's published example in tests/test_twilio_unit.py."""

import base64
import hashlib
import hmac
import json
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email.utils import formatdate

from aiohttp import web

from devstack import free_port

# The shapes of Twilio's SIDs; the account's is the one in Twilio's own examples.
ACCOUNT_SID = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
AUTH_TOKEN = "goalflow-tests-twilio-auth-token"
SMS_FROM = "+14155550100"
WHATSAPP_FROM = "+14155238886"
E164 = re.compile(r"^(whatsapp:)?\+[1-9][0-9]{1,14}$")


def sign(token: str, url: str, params: dict[str, str]) -> str:
    """X-Twilio-Signature: base64(HMAC-SHA1(token, url + each name and value, sorted by name)).
    The webhooks here carry one value per name."""
    payload = url + "".join(name + params[name] for name in sorted(params))
    return base64.b64encode(hmac.new(token.encode(), payload.encode(), hashlib.sha1).digest()).decode()


def sid(prefix: str) -> str:
    return prefix + uuid.uuid4().hex


def status_callback(message: dict[str, str], status: str, error_code: str | None = None) -> dict[str, str]:
    """What Twilio posts to a message's StatusCallback: the standard properties
    of its messaging webhooks, `MessageStatus` and, when it failed, `ErrorCode`."""
    params = {
        "AccountSid": ACCOUNT_SID,
        "ApiVersion": "2010-04-01",
        "From": message["From"],
        "To": message["To"],
        "MessageSid": message["sid"],
        "SmsSid": message["sid"],
        "MessageStatus": status,
        "SmsStatus": status,
    }
    return params | ({"ErrorCode": error_code} if error_code else {})


def inbound(sender: str, body: str, to: str = SMS_FROM, **more: str) -> dict[str, str]:
    """What Twilio posts to a number's messaging webhook when someone texts it."""
    message_sid = sid("SM")
    return {
        "MessageSid": message_sid,
        "SmsSid": message_sid,
        "SmsMessageSid": message_sid,
        "AccountSid": ACCOUNT_SID,
        "From": sender,
        "To": to,
        "Body": body,
        "NumMedia": "0",
        "NumSegments": "1",
        "SmsStatus": "received",
        "ApiVersion": "2010-04-01",
        **more,
    }


def _error(status: int, code: int, message: str) -> web.Response:
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return web.json_response(body, status=status)


@dataclass
class FakeTwilio:
    """Twilio's Messages resource for one account: keeps each message it took."""

    url: str = ""
    messages: list[dict[str, str]] = field(default_factory=list)
    attempts: int = 0
    # Answered to the next requests, in turn, before anything else: (status, code, message).
    answers: list[tuple[int, int, str]] = field(default_factory=list)
    # Numbers that replied STOP to Twilio: it refuses to send to them (21610).
    opted_out: set[str] = field(default_factory=set)

    async def create(self, request: web.Request) -> web.Response:
        self.attempts += 1
        expected = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
        if request.match_info["account"] != ACCOUNT_SID or request.headers.get("Authorization") != expected:
            return _error(401, 20003, "Authenticate")
        form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
        if self.answers:
            return _error(*self.answers.pop(0))
        refused = self._refusal(form)
        if refused is not None:
            return refused
        message_sid = sid("SM")
        now = formatdate(usegmt=True).replace("GMT", "+0000")
        uri = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{message_sid}"
        resource = {
            "account_sid": ACCOUNT_SID,
            "api_version": "2010-04-01",
            "body": form.get("Body", ""),
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": form["From"],
            "messaging_service_sid": None,
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": None,
            "sid": message_sid,
            "status": "queued",
            "subresource_uris": {"media": f"{uri}/Media.json"},
            "to": form["To"],
            "uri": f"{uri}.json",
        }
        self.messages.append({**form, "sid": message_sid})
        return web.json_response(resource, status=201)

    def _refusal(self, form: dict[str, str]) -> web.Response | None:
        to, sender = form.get("To"), form.get("From")
        if not to:
            return _error(400, 21604, "A 'To' phone number is required.")
        if not sender:
            return _error(400, 21603, "A 'From' phone number is required.")
        if not E164.match(to):
            return _error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if to.startswith("whatsapp:") != sender.startswith("whatsapp:"):
            return _error(400, 21910, "Invalid From and To pair. From and To should be of the same channel")
        if to in self.opted_out:
            return _error(400, 21610, "Attempt to send to unsubscribed recipient")
        if "ContentSid" in form:
            if not re.fullmatch(r"HX[0-9a-fA-F]{32}", form["ContentSid"]):
                return _error(400, 21655, "The ContentSid is Invalid")
            try:
                variables = json.loads(form.get("ContentVariables", "{}"))
            except ValueError:
                variables = None
            if not isinstance(variables, dict) or not all(
                isinstance(v, str) and v for v in variables.values()
            ):
                return _error(400, 21656, "The ContentVariables Parameter is invalid")
        elif not form.get("Body"):
            return _error(400, 21602, "Message body is required.")
        elif len(form["Body"]) > 1600:
            return _error(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
        return None


@asynccontextmanager
async def serving() -> AsyncIterator[FakeTwilio]:
    """The Messages API on a free loopback port."""
    twilio = FakeTwilio()
    app = web.Application()
    app.router.add_post("/2010-04-01/Accounts/{account}/Messages.json", twilio.create)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    twilio.url = f"http://127.0.0.1:{port}"
    try:
        yield twilio
    finally:
        await runner.cleanup()
