"""Mailgun: webhooks (`{"signature": {...}, "event-data": {...}}`, JSON) and route
forwards of inbound mail (form fields), both signed the same way: the hex
HMAC-SHA256 of timestamp and token, keyed with the webhook signing key.

The message carried `X-Mailgun-Variables: {"goalflow_message_id": …}`, which
Mailgun echoes in `user-variables`."""

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from shared.domain.providers import (
    CORRELATION,
    Malformed,
    Record,
    Unsigned,
    derived_id,
    message_ids,
    obj,
    replied_to,
    text,
    timestamp,
)

PROVIDER = "mailgun"


def verify(key: str | None, signed: Mapping[str, Any]) -> None:
    """Raise Unsigned unless `signed` holds a signature of its timestamp and token by `key`.
    An old timestamp is accepted: a replayed post repeats an event id, which counts once."""
    values = [signed.get(k) for k in ("timestamp", "token", "signature")]
    if not key or not all(isinstance(v, str | int) and str(v) for v in values):
        raise Unsigned("no Mailgun signature")
    stamp, token, signature = (str(v) for v in values)
    expected = hmac.new(key.encode(), (stamp + token).encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        raise Unsigned("the Mailgun signature does not match")


def webhook(key: str | None, body: bytes) -> list[Record]:
    """Verify and read one webhook post."""
    try:
        payload = obj(json.loads(body))
    except ValueError:
        raise Unsigned("not a signed Mailgun webhook") from None
    signature = payload.get("signature")
    verify(key, signature if isinstance(signature, dict) else {})
    record = _record(obj(payload.get("event-data")))
    return [record] if record else []


def _record(data: dict[str, Any]) -> Record | None:
    event = data.get("event")
    severity = data.get("severity")
    kind = {
        "delivered": "delivered",
        "opened": "opened",
        "clicked": "clicked",
        "unsubscribed": "unsubscribed",
        "complained": "complained",
        "failed": "bounced" if severity == "permanent" else "deferred",
    }.get(event)  # type: ignore[arg-type]
    if kind is None:
        return None  # accepted, stored, list events: nothing goals or consent read
    message = data.get("message") if isinstance(data.get("message"), dict) else {}
    headers = message.get("headers") if isinstance(message.get("headers"), dict) else {}
    variables = data.get("user-variables") if isinstance(data.get("user-variables"), dict) else {}
    client = data.get("client-info") if isinstance(data.get("client-info"), dict) else {}
    status = data.get("delivery-status") if isinstance(data.get("delivery-status"), dict) else {}
    correlation = text(variables.get(CORRELATION))
    rfc_id = text(headers.get("message-id"))
    return Record(
        provider=PROVIDER,
        event_id=text(data.get("id"))
        or derived_id(PROVIDER, event, correlation or rfc_id, data.get("timestamp")),
        kind=kind,  # type: ignore[arg-type]
        occurred_at=timestamp(data.get("timestamp")),
        message_id=correlation,
        rfc_ids=message_ids(rfc_id),
        url=text(data.get("url")) if kind == "clicked" else None,
        # Mailgun names the bot it saw (apple, gmail, …); empty for a person.
        automated=bool(client.get("bot")),
        reason=(text(status.get("message")) or text(status.get("description")) or text(data.get("reason")))
        if kind in ("bounced", "deferred")
        else None,
    )


def route(key: str | None, form: Mapping[str, str]) -> list[Record]:
    """Verify and read a route's forward of an inbound message: a reply names the
    message it answers in In-Reply-To or References."""
    verify(key, form)
    headers = _headers(form)
    reply_id = message_ids(headers.get("message-id"))
    references = replied_to(headers.get("in-reply-to"), headers.get("references"))
    if not references:
        return []
    return [
        Record(
            provider=PROVIDER,
            event_id=derived_id(PROVIDER, "replied", reply_id[0] if reply_id else form["token"]),
            kind="replied",
            occurred_at=None,
            message_id=None,
            rfc_ids=references,
        )
    ]


def _headers(form: Mapping[str, str]) -> dict[str, str]:
    """The message's headers, by lower-case name: `message-headers` (a JSON list of
    pairs) where Mailgun posts it, else the fields it posts one per header."""
    try:
        pairs = json.loads(form.get("message-headers") or "[]")
    except ValueError:
        raise Malformed("message-headers is not JSON") from None
    headers = {str(k).lower(): str(v) for k, v in form.items()}
    if isinstance(pairs, list):
        headers |= {str(p[0]).lower(): str(p[1]) for p in pairs if isinstance(p, list) and len(p) == 2}
    return headers
