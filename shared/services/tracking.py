"""Tracking: opens, clicks and unsubscribes that come back through the signed
URLs of a message (`worker/tracking.py` writes them), recorded as events.

Whether a hit is automated (an image proxy, a link scanner) is decided when it
arrives and never revisited (G11, G14). A hit is automated when:
- it is a HEAD request: browsers fetch with GET, scanners often probe;
- its user agent names a known image proxy or link scanner (`AUTOMATED_AGENTS`);
- it comes within `PREFETCH_WINDOW` of the message being sent: scanners and
  Apple Mail Privacy Protection fetch on delivery, before anyone could read it.
Such hits are still recorded, with `data.automated: true`."""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from shared.domain.events import Event
from shared.domain.tokens import verify
from shared.services.context import Services
from shared.store.db import Contact, Link, Message, utcnow

PREFETCH_WINDOW = timedelta(seconds=5)
# Substrings of the user agents of image proxies and link scanners.
AUTOMATED_AGENTS = (
    "googleimageproxy",
    "yahoomailproxy",
    "barracuda",
    "mimecast",
    "proofpoint",
    "symantec",
    "trendmicro",
    "bingpreview",
    "slackbot",
    "facebookexternalhit",
    "python-requests",
    "go-http-client",
    "curl/",
    "wget/",
)


@dataclass(frozen=True)
class Hit:
    method: str
    user_agent: str | None
    at: datetime


@dataclass(frozen=True)
class Unsubscribe:
    contact_id: str
    email: str | None
    message_id: str | None


def _claims(services: Services, kind: str, token: str) -> dict[str, Any] | None:
    return None if services.secret_key is None else verify(services.secret_key, kind, token)


def automated(hit: Hit, sent_at: datetime | None) -> bool:
    agent = (hit.user_agent or "").lower()
    return (
        hit.method == "HEAD"
        or any(marker in agent for marker in AUTOMATED_AGENTS)
        or (sent_at is not None and hit.at - sent_at < PREFETCH_WINDOW)
    )


def _event(kind: str, contact_id: str, data: dict[str, Any], event_id: str | None = None) -> Event:
    return Event(
        id=event_id or f"{kind.replace('.', '_')}_{uuid.uuid4().hex}",
        contact_id=contact_id,
        type=kind,  # type: ignore[arg-type]
        occurred_at=utcnow(),
        data=data,
    )


async def opened(services: Services, token: str, hit: Hit) -> bool:
    """Record an open; False when the token is not one of ours."""
    claims = _claims(services, "o", token)
    if claims is None:
        return False
    message = await services.db(lambda s: s.get(Message, claims["m"]))
    if message is not None:
        data = {"message_id": message.message_id, "automated": automated(hit, message.created_at)}
        await services.bus.publish(_event("email.opened", message.contact_id, data))
    return True


async def clicked(services: Services, token: str, hit: Hit) -> str | None:
    """Record a click and answer where it goes; None when the token is not one of
    ours, or names a trigger link that does not exist."""
    claims = _claims(services, "c", token)
    if claims is None:
        return None

    def read(session: Session) -> tuple[Message | None, Link | None, bool]:
        message = session.get(Message, claims["m"]) if "m" in claims else None
        link = session.get(Link, claims["l"]) if "l" in claims else None
        return message, link, session.get(Contact, claims["c"]) is not None

    message, link, known = await services.db(read)
    if "l" in claims and link is None:
        return None
    url = link.url if link is not None else claims["u"]
    if not known:
        return url  # The contact is gone: nothing to record, the link still works.
    robot = automated(hit, message.created_at if message else None)
    contact_id = claims["c"]
    if link is not None:
        data = {"link_id": link.id, "automated": robot} | (
            {"message_id": message.message_id} if message else {}
        )
        await services.bus.publish(_event("link.clicked", contact_id, data))
    if message is not None and message.channel == "email":  # A trigger link in an SMS is no email click.
        data = {"message_id": message.message_id, "url": url, "automated": robot}
        await services.bus.publish(_event("email.clicked", contact_id, data))
    return url


async def unsubscribing(services: Services, token: str) -> Unsubscribe | None:
    """Who an unsubscribe URL stands for; None when the token is not one of ours."""
    claims = _claims(services, "u", token)
    if claims is None:
        return None
    contact = await services.db(lambda s: s.get(Contact, claims["c"]))
    if contact is None:
        return None
    return Unsubscribe(contact.id, contact.email, claims.get("m"))


async def unsubscribe(services: Services, token: str) -> Unsubscribe | None:
    """Unsubscribe the contact from marketing email: an `email.unsubscribed`
    event, which can meet a goal. Posting again records nothing new."""
    who = await unsubscribing(services, token)
    if who is None:
        return None
    data = {"message_id": who.message_id} if who.message_id else {}
    event_id = f"unsubscribe_{who.message_id or who.contact_id}"
    await services.bus.publish(_event("email.unsubscribed", who.contact_id, data, event_id))
    return who
