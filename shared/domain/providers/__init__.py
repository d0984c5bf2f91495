"""Email providers' webhooks, pure: each module checks its provider's signature
as the provider documents it and reads its payloads into `Record`s.

A record names the message it is about two ways: goalflow's message id, from
the correlation value the message carried (`worker/mime.py`), and the RFC 5322
Message-IDs that may name it (`<{message_id}@{domain}>`), for the fallback and
for replies."""

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

Kind = Literal[
    "delivered", "opened", "clicked", "unsubscribed", "complained", "bounced", "deferred", "replied"
]
# The correlation value's name in every provider's metadata.
CORRELATION = "goalflow_message_id"
# Most Message-IDs a record may name: a long References chain is cut to its newest.
MAX_IDS = 20


class Unsigned(Exception):
    """A post without the provider's valid signature: answered 401, nothing stored."""


class Malformed(ValueError):
    """A signed body that is not the provider's format at all: answered 400."""


@dataclass(frozen=True)
class Record:
    provider: str
    event_id: str
    kind: Kind
    # None: when it arrived. A reply's Date is the replier's clock; its arrival is ours.
    occurred_at: datetime | None
    # goalflow's message id, from the correlation value.
    message_id: str | None
    # RFC 5322 Message-IDs, without angle brackets, that may name the message.
    rfc_ids: tuple[str, ...] = ()
    url: str | None = None
    automated: bool = False
    # A bounce's or a deferral's reason, as the provider reported it.
    reason: str | None = None

    @property
    def event_type(self) -> str:
        return f"email.{self.kind}"


def derived_id(*parts: object) -> str:
    """An event id for a record the provider gives none: the same parts, the same id."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:32]
    return f"{parts[0]}_{digest}"


_ANGLED = re.compile(r"<([^<>\s]+)>")


def message_ids(*values: str | None) -> tuple[str, ...]:
    """The Message-IDs in header values (`<a@b> <c@d>`), newest last as References
    lists them; a bare value without brackets counts as one."""
    found: list[str] = []
    for value in values:
        if not value:
            continue
        angled = _ANGLED.findall(value)
        found += angled or [value.strip()]
    return tuple(found)


def replied_to(in_reply_to: str | None, references: str | None) -> tuple[str, ...]:
    """The messages a reply names: In-Reply-To, then References newest first."""
    ids = message_ids(in_reply_to) + tuple(reversed(message_ids(references)))
    return tuple(dict.fromkeys(ids))[:MAX_IDS]


def timestamp(seconds: Any) -> datetime:
    try:
        return datetime.fromtimestamp(float(seconds), UTC)
    except (TypeError, ValueError, OverflowError):
        raise Malformed(f"not a timestamp: {seconds!r}") from None


def iso_time(value: Any) -> datetime:
    """An ISO 8601 time; providers write up to seven decimals, Python reads six."""
    if not isinstance(value, str):
        raise Malformed(f"not a time: {value!r}")
    text = re.sub(r"(\.\d{6})\d+", r"\1", value.replace("Z", "+00:00"))
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise Malformed(f"not a time: {value!r}") from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


def text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def obj(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Malformed("expected a JSON object")
    return value
