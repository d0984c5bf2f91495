"""Standard Webhooks signatures (https://www.standardwebhooks.com): each
request carries `webhook-id`, `webhook-timestamp` (Unix seconds) and
`webhook-signature`, `v1,` and the base64 of the HMAC-SHA256 of
`id.timestamp.body`. The secret is written `whsec_` and the key in base64;
the key is the decoded bytes. Receivers verify with the spec's libraries."""

import base64
import binascii
import hashlib
import hmac

PREFIX = "whsec_"


def decode_secret(text: str) -> bytes:
    """The HMAC key of a secret written as the spec writes it, `whsec_` + base64."""
    if not text.startswith(PREFIX):
        raise ValueError("a Standard Webhooks secret starts with whsec_, then the key in base64")
    encoded = text.removeprefix(PREFIX)
    try:
        # Padding is optional, as some generators leave it out.
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("after whsec_, a Standard Webhooks secret is the key in base64") from None
    if not key:
        raise ValueError("the key after whsec_ is empty")
    return key


def message_id(key: str) -> str:
    """The `webhook-id` of a step run: the same on every attempt and redirect,
    so a receiver can drop the retries of a call it already handled."""
    return "msg_" + hashlib.sha256(key.encode()).hexdigest()[:32]


def signature(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def headers(key: bytes, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(key, msg_id, timestamp, body),
    }
