"""Postmark: webhooks and inbound mail, JSON, protected by HTTP basic auth in the
webhook's URL, as Postmark advises (it does not sign its posts).

The message carried `X-PM-Metadata-goalflow_message_id`, which Postmark echoes
in `Metadata`. Bounces and spam complaints have an `ID`; other records have
none, so their event id is derived from the record type, the message and the time."""

import base64
import binascii
import hmac
import json
from typing import Any

from shared.domain.providers import (
    CORRELATION,
    Malformed,
    Record,
    Unsigned,
    derived_id,
    iso_time,
    message_ids,
    obj,
    replied_to,
    text,
)

PROVIDER = "postmark"
# Bounce types that end delivery to the address for good; Postmark also marks
# such an address `Inactive`.
_PERMANENT = {"HardBounce", "BadEmailAddress", "ManuallyDeactivated"}


def verify(user: str | None, password: str | None, authorization: str | None) -> None:
    """Raise Unsigned unless `authorization` is `Basic` with the configured user and password."""
    if not user or not password or not authorization:
        raise Unsigned("no Postmark credentials")
    scheme, _, encoded = authorization.partition(" ")
    try:
        given = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise Unsigned("malformed basic credentials") from None
    expected = f"{user}:{password}".encode()
    if scheme.lower() != "basic" or not hmac.compare_digest(given, expected):
        raise Unsigned("wrong Postmark credentials")


def records(user: str | None, password: str | None, authorization: str | None, body: bytes) -> list[Record]:
    verify(user, password, authorization)
    try:
        payload = obj(json.loads(body))
    except ValueError:
        raise Malformed("not a JSON object") from None
    kind = payload.get("RecordType")
    if kind is None and isinstance(payload.get("Headers"), list):
        return _inbound(payload)
    record = _record(payload)
    return [record] if record else []


def _record(p: dict[str, Any]) -> Record | None:
    record_type = p.get("RecordType")
    kind: str | None
    when = p.get("ReceivedAt")
    reason = None
    match record_type:
        case "Delivery":
            kind, when = "delivered", p.get("DeliveredAt")
        case "Open":
            kind = "opened"
        case "Click":
            kind = "clicked"
        case "SpamComplaint":
            kind, when = "complained", p.get("BouncedAt")
        case "Bounce":
            permanent = p.get("Type") in _PERMANENT or p.get("Inactive") is True
            kind, when, reason = (
                ("bounced" if permanent else "deferred"),
                p.get("BouncedAt"),
                text(p.get("Details")),
            )
        case "SubscriptionChange":
            kind, when = _suppression(p), p.get("ChangedAt")
        case _:
            kind = None
    if kind is None:
        return None
    metadata = p.get("Metadata") if isinstance(p.get("Metadata"), dict) else {}
    correlation = text(metadata.get(CORRELATION))
    own_id = p.get("ID")
    return Record(
        provider=PROVIDER,
        event_id=str(own_id) if own_id else derived_id(PROVIDER, record_type, p.get("MessageID"), when),
        kind=kind,  # type: ignore[arg-type]
        occurred_at=iso_time(when),
        message_id=correlation,
        url=text(p.get("OriginalLink")) if kind == "clicked" else None,
        reason=reason,
    )


def _suppression(p: dict[str, Any]) -> str | None:
    """A suppression is an unsubscribe, a complaint or a bounce; a reactivation is
    the customer's doing and gives no consent back."""
    if p.get("SuppressSending") is not True:
        return None
    return {"HardBounce": "bounced", "SpamComplaint": "complained"}.get(
        p.get("SuppressionReason"), "unsubscribed"
    )  # type: ignore[arg-type]


def _inbound(p: dict[str, Any]) -> list[Record]:
    headers = {
        str(h.get("Name", "")).lower(): str(h.get("Value", "")) for h in p["Headers"] if isinstance(h, dict)
    }
    references = replied_to(headers.get("in-reply-to"), headers.get("references"))
    if not references:
        return []
    reply_id = message_ids(headers.get("message-id")) or (text(p.get("MessageID")),)
    return [
        Record(
            provider=PROVIDER,
            event_id=derived_id(PROVIDER, "replied", reply_id[0]),
            kind="replied",
            occurred_at=None,
            message_id=None,
            rfc_ids=references,
        )
    ]
