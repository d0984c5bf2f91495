"""Twilio's request signatures (`X-Twilio-Signature`): the base64 of an
HMAC-SHA1, keyed with the account's auth token, of the URL Twilio requested
followed by every POST parameter's name and value, sorted by name, then value.

As twilio-python's RequestValidator does, a URL is accepted signed with or
without its default port: Twilio's own signing is not consistent about it."""

import base64
import hashlib
import hmac
from urllib.parse import urlsplit, urlunsplit

Params = list[tuple[str, str]]
# Where Twilio posts messages' statuses and the messages contacts send us.
WEBHOOK_PATH = "/webhooks/twilio"


def signature(token: str, url: str, params: Params) -> str:
    payload = url + "".join(
        name + value
        for name in sorted({n for n, _ in params})
        for value in sorted({v for n, v in params if n == name})
    )
    digest = hmac.new(token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def verified(token: str, url: str, params: Params, claimed: str | None) -> bool:
    """Whether `claimed` is Twilio's signature of this request under `token`."""
    if not claimed:
        return False
    return any(hmac.compare_digest(signature(token, u, params), claimed) for u in _with_and_without_port(url))


def _with_and_without_port(url: str) -> set[str]:
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    netloc = parts.netloc.rpartition("@")[0] + "@" if "@" in parts.netloc else ""
    return {
        urlunsplit(parts._replace(netloc=f"{netloc}{host}")),
        urlunsplit(parts._replace(netloc=f"{netloc}{host}:{port}")),
    }


# Twilio's default opt-out and opt-in keywords: a message that is one of them,
# whole, in any case. Twilio stops (and restarts) sending to the number itself.
OPT_OUT_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"})
OPT_IN_WORDS = frozenset({"START", "UNSTOP", "YES"})


def inbound_event_type(body: str, opt_out_type: str | None = None) -> str:
    """What a message a contact sends us records. Twilio's `OptOutType` (sent
    when a Messaging Service has Advanced Opt-Out, with its own keywords) wins."""
    word = body.strip().upper()
    if opt_out_type == "STOP" or (opt_out_type is None and word in OPT_OUT_WORDS):
        return "sms.unsubscribed"
    if opt_out_type == "START" or (opt_out_type is None and word in OPT_IN_WORDS):
        return "sms.resubscribed"
    return "sms.replied"
