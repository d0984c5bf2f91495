"""What `make run` caught: the mail its SMTP catcher keeps (`shared.store.mailbox`),
and the SMS and WhatsApp messages in the outbox, which without Twilio settings
go no further."""

from email.message import EmailMessage
from pathlib import Path

from sqlmodel import Session, col, select

from shared.domain.errors import NotFound
from shared.domain.phones import TEXT_CHANNELS
from shared.services.contacts import MessageView
from shared.services.context import Services
from shared.store.db import Message
from shared.store.mailbox import Mailbox


def newest_first(directory: str | None, limit: int = 100) -> list[EmailMessage]:
    if directory is None:
        raise NotFound("mailbox", "dev", "make run catches mail only when GOALFLOW_SMTP_URL is unset")
    return Mailbox(Path(directory)).newest_first(limit)


async def texts_newest_first(services: Services, limit: int = 100) -> list[MessageView]:
    def read(session: Session) -> list[MessageView]:
        query = select(Message).where(col(Message.channel).in_(TEXT_CHANNELS))
        rows = session.exec(query.order_by(col(Message.created_at).desc()).limit(limit))
        return [MessageView.model_validate(m) for m in rows]

    return await services.db(read)
