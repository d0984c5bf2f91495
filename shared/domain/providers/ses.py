"""Amazon SES, through Amazon SNS: each post is an SNS message signed with RSA
(SignatureVersion 1: SHA1, 2: SHA256) over a canonical string of its fields,
by the key in the certificate at `SigningCertURL`. That certificate is trusted
for coming over HTTPS from an Amazon SNS host, which `sns_url` insists on (the
fetch itself is `shared/services/sns.py`).

The message carried `X-SES-MESSAGE-TAGS: goalflow_message_id=…`, which SES's
event publishing echoes in `mail.tags`."""

import base64
import binascii
import json
import re
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from shared.domain.providers import (
    CORRELATION,
    Malformed,
    Record,
    Unsigned,
    iso_time,
    message_ids,
    obj,
    text,
)

PROVIDER = "ses"
_SNS_HOST = re.compile(r"sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?")
# The fields each message type signs, in the order they are signed (Amazon SNS
# developer guide, "Verifying the signatures of Amazon SNS messages").
_SIGNED = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
    "UnsubscribeConfirmation": (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
}
_HASHES = {"1": hashes.SHA1, "2": hashes.SHA256}


def sns_url(url: Any) -> bool:
    """Whether `url` is an https URL on an Amazon SNS host, the only place goalflow
    fetches a certificate from or confirms a subscription at."""
    if not isinstance(url, str):
        return False
    parts = urlsplit(url)
    return (
        parts.scheme == "https"
        and parts.hostname is not None
        and _SNS_HOST.fullmatch(parts.hostname) is not None
        and parts.port in (None, 443)
        and parts.username is None
    )


def envelope(body: bytes) -> dict[str, Any]:
    """The SNS message, checked for the fields its signature needs (not yet the signature)."""
    try:
        message = obj(json.loads(body))
    except ValueError:
        raise Unsigned("not a signed Amazon SNS message") from None
    fields = _SIGNED.get(message.get("Type"))  # type: ignore[arg-type]
    if (
        fields is None
        or message.get("SignatureVersion") not in _HASHES
        or not isinstance(message.get("Signature"), str)
        or not sns_url(message.get("SigningCertURL"))
    ):
        raise Unsigned("not a signed Amazon SNS message")
    return message


def canonical(message: dict[str, Any]) -> bytes:
    """The string SNS signs: each signed field present, as `Name\\nValue\\n`."""
    fields = _SIGNED[message["Type"]]
    return "".join(f"{f}\n{message[f]}\n" for f in fields if message.get(f) is not None).encode()


def verify(message: dict[str, Any], certificate: bytes) -> None:
    try:
        key = x509.load_pem_x509_certificate(certificate).public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise Unsigned("the SNS certificate's key is not RSA")
        algorithm = _HASHES[message["SignatureVersion"]]()
        key.verify(base64.b64decode(message["Signature"]), canonical(message), padding.PKCS1v15(), algorithm)
    except (InvalidSignature, ValueError, binascii.Error):
        raise Unsigned("the Amazon SNS signature does not match") from None


def records(message: dict[str, Any]) -> list[Record]:
    """The SES event a verified notification carries; none for anything else."""
    try:
        event = json.loads(message["Message"])
    except (TypeError, ValueError):
        return []  # a topic's other messages: signed, but not SES's
    if not isinstance(event, dict):
        return []
    name = event.get("eventType") or event.get("notificationType")
    mail = event.get("mail") if isinstance(event.get("mail"), dict) else {}
    detail: dict[str, Any]
    match name:
        case "Delivery" | "Open" | "Click" | "Complaint" | "DeliveryDelay":
            detail = obj(event.get(name[0].lower() + name[1:]))
            kind = {"Delivery": "delivered", "Open": "opened", "Click": "clicked"}.get(name)
            kind = kind or ("complained" if name == "Complaint" else "deferred")
        case "Bounce":
            detail = obj(event.get("bounce"))
            kind = "bounced" if detail.get("bounceType") == "Permanent" else "deferred"
        case _:
            return []
    if not mail:
        raise Malformed("an SES event names its mail")
    return [
        Record(
            provider=PROVIDER,
            event_id=str(message["MessageId"]),
            kind=kind,  # type: ignore[arg-type]
            occurred_at=iso_time(detail.get("timestamp") or mail.get("timestamp")),
            message_id=_tag(mail) or _header(mail, "x-goalflow-message-id"),
            rfc_ids=message_ids(_header(mail, "message-id")),
            url=text(detail.get("link")) if kind == "clicked" else None,
            reason=_reason(detail) if kind in ("bounced", "deferred") else None,
        )
    ]


def _tag(mail: dict[str, Any]) -> str | None:
    tags = mail.get("tags") if isinstance(mail.get("tags"), dict) else {}
    values = tags.get(CORRELATION)
    return text(values[0]) if isinstance(values, list) and values else None


def _header(mail: dict[str, Any], name: str) -> str | None:
    """An original header, where the configuration set includes them."""
    for header in mail.get("headers") or []:
        if isinstance(header, dict) and str(header.get("name", "")).lower() == name:
            return text(header.get("value"))
    return None


def _reason(detail: dict[str, Any]) -> str | None:
    recipients = detail.get("bouncedRecipients") or detail.get("delayedRecipients") or []
    first = recipients[0] if recipients and isinstance(recipients[0], dict) else {}
    return (
        text(first.get("diagnosticCode"))
        or text(detail.get("delayType"))
        or text(detail.get("bounceSubType"))
    )
