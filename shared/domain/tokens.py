"""Signed tokens for public tracking URLs: what the URL stands for (a message,
a contact, a link), signed with HMAC-SHA256 under GOALFLOW_SECRET_KEY. A token
altered in any way does not verify, so a tracking URL can never be made to
point somewhere else."""

import base64
import hashlib
import hmac
import json
from typing import Any

# 128 bits of the MAC: forging one is out of reach, and URLs stay short.
MAC_BYTES = 16


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, kind: str, body: str) -> bytes:
    return hmac.new(key, f"{kind}.{body}".encode(), hashlib.sha256).digest()[:MAC_BYTES]


def sign(key: bytes, kind: str, claims: dict[str, Any]) -> str:
    """A token for `claims`, good only for URLs of `kind` (open, click, unsubscribe)."""
    body = _b64(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
    return f"{body}.{_b64(_mac(key, kind, body))}"


def verify(key: bytes, kind: str, token: str) -> dict[str, Any] | None:
    """The claims of a token this key signed for `kind`; None for anything else."""
    body, _, mac = token.partition(".")
    try:
        if not hmac.compare_digest(_unb64(mac), _mac(key, kind, body)):
            return None
        claims = json.loads(_unb64(body))
    except (ValueError, TypeError):
        return None
    return claims if isinstance(claims, dict) else None
