"""SendGrid: the Event Webhook, a JSON array of events signed with ECDSA (P-256,
SHA-256) over the timestamp header followed by the raw body; the key is the
base64 DER public key SendGrid shows. Inbound Parse posts are not signed: its
URL carries a secret of ours instead (`GOALFLOW_SENDGRID_INBOUND_KEY`).

The message carried `X-SMTPAPI: {"unique_args": {"goalflow_message_id": …}}`,
which SendGrid echoes as a property of each event."""

import base64
import binascii
import hmac
import json
from collections.abc import Mapping
from email.parser import HeaderParser
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key

from shared.domain.providers import (
    CORRELATION,
    Malformed,
    Record,
    Unsigned,
    derived_id,
    message_ids,
    replied_to,
    text,
    timestamp,
)

PROVIDER = "sendgrid"
_KINDS = {
    "delivered": "delivered",
    "open": "opened",
    "click": "clicked",
    "unsubscribe": "unsubscribed",
    "group_unsubscribe": "unsubscribed",
    "spamreport": "complained",
    "deferred": "deferred",
}


def verify(public_key: str | None, body: bytes, signature: str | None, stamp: str | None) -> None:
    """Raise Unsigned unless `signature` signs `stamp` + `body` with `public_key`."""
    if not public_key or not signature or not stamp:
        raise Unsigned("no SendGrid signature")
    try:
        key = load_der_public_key(base64.b64decode(public_key))
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise Unsigned("GOALFLOW_SENDGRID_WEBHOOK_PUBLIC_KEY is not an ECDSA key")
        key.verify(base64.b64decode(signature), stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError, binascii.Error):
        raise Unsigned("the SendGrid signature does not match") from None


def events(public_key: str | None, body: bytes, signature: str | None, stamp: str | None) -> list[Record]:
    verify(public_key, body, signature, stamp)
    try:
        batch = json.loads(body)
    except ValueError:
        raise Malformed("not JSON") from None
    if not isinstance(batch, list):
        raise Malformed("expected a JSON array of events")
    return [r for r in map(_record, batch) if r is not None]


def _record(event: Any) -> Record | None:
    if not isinstance(event, dict):
        raise Malformed("each event is a JSON object")
    name = event.get("event")
    kind = _KINDS.get(name)  # type: ignore[arg-type]
    if name == "bounce":
        # A block is the receiving server refusing for now; a bounce is for good.
        kind = "deferred" if event.get("type") == "blocked" else "bounced"
    if kind is None:
        return None  # processed, dropped, resubscribes: nothing goals or consent read
    correlation = text(event.get(CORRELATION))
    smtp_id = text(event.get("smtp-id"))
    return Record(
        provider=PROVIDER,
        event_id=text(event.get("sg_event_id"))
        or derived_id(PROVIDER, name, correlation or smtp_id, event.get("timestamp")),
        kind=kind,  # type: ignore[arg-type]
        occurred_at=timestamp(event.get("timestamp")),
        message_id=correlation,
        rfc_ids=message_ids(smtp_id),
        url=text(event.get("url")) if kind == "clicked" else None,
        # Apple Mail Privacy Protection's prefetch, as SendGrid flags it.
        automated=event.get("sg_machine_open") is True,
        reason=text(event.get("reason")) or text(event.get("response"))
        if kind in ("bounced", "deferred")
        else None,
    )


def check_inbound_key(configured: str | None, given: str | None) -> None:
    if not configured or not given or not hmac.compare_digest(configured.encode(), given.encode()):
        raise Unsigned("no or wrong inbound key")


def inbound(configured: str | None, given: str | None, form: Mapping[str, str]) -> list[Record]:
    """An Inbound Parse post (its `headers` field holds the raw header block)."""
    check_inbound_key(configured, given)
    raw = form.get("headers")
    if raw is None:
        raise Malformed("an Inbound Parse post has a headers field")
    headers = HeaderParser().parsestr(raw)
    references = replied_to(headers.get("In-Reply-To"), headers.get("References"))
    if not references:
        return []
    reply_id = message_ids(headers.get("Message-ID"))
    return [
        Record(
            provider=PROVIDER,
            event_id=derived_id(PROVIDER, "replied", reply_id[0] if reply_id else raw),
            kind="replied",
            occurred_at=None,
            message_id=None,
            rfc_ids=references,
        )
    ]
