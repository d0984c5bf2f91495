"""Senders: who messages come from, and how many may go out per UTC day."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict
from sqlmodel import Session, col, select

from shared.domain.errors import Conflict
from shared.services.context import Services
from shared.store.db import Sender, utcnow


class SenderView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    email: str
    name: str | None
    daily_limit: int | None
    created_at: datetime


async def create(services: Services, email: str, name: str | None, daily_limit: int | None) -> SenderView:
    def save(session: Session) -> SenderView:
        if session.get(Sender, email.lower()) is not None:
            raise Conflict(f"sender '{email}' exists")
        sender = Sender(email=email.lower(), name=name, daily_limit=daily_limit, created_at=utcnow())
        session.add(sender)
        session.commit()
        return SenderView.model_validate(sender)

    return await services.db(save)


async def all_senders(services: Services) -> list[SenderView]:
    def read(session: Session) -> list[SenderView]:
        rows = session.exec(select(Sender).order_by(col(Sender.created_at), col(Sender.email)))
        return [SenderView.model_validate(r) for r in rows]

    return await services.db(read)
