"""Senders: who messages come from, an email address or a phone number (SMS
and WhatsApp), and how many messages may go out per UTC day."""

from datetime import datetime

from pydantic import BaseModel
from sqlmodel import Session, col, select

from shared.domain.errors import Conflict
from shared.services.context import Services
from shared.store.db import Sender, utcnow


class SenderView(BaseModel):
    # One of the two: an email address, or a phone number (E.164).
    email: str | None
    phone: str | None
    name: str | None
    daily_limit: int | None
    created_at: datetime


def _view(sender: Sender) -> SenderView:
    phone = "@" not in sender.address
    return SenderView(
        email=None if phone else sender.address,
        phone=sender.address if phone else None,
        name=sender.name,
        daily_limit=sender.daily_limit,
        created_at=sender.created_at,
    )


async def create(services: Services, address: str, name: str | None, daily_limit: int | None) -> SenderView:
    """A sender: an email address (kept in lower case) or a phone number."""

    def save(session: Session) -> SenderView:
        if session.get(Sender, address.lower()) is not None:
            raise Conflict(f"sender '{address}' exists")
        sender = Sender(address=address.lower(), name=name, daily_limit=daily_limit, created_at=utcnow())
        session.add(sender)
        session.commit()
        return _view(sender)

    return await services.db(save)


async def all_senders(services: Services) -> list[SenderView]:
    def read(session: Session) -> list[SenderView]:
        rows = session.exec(select(Sender).order_by(col(Sender.created_at), col(Sender.address)))
        return [_view(r) for r in rows]

    return await services.db(read)
