"""SMS and WhatsApp in the database: the messages contacts send us, the
contacts a number belongs to, and which of our messages a reply answers."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from shared.store.db import Contact, InboundMessage, Message, as_utc, insert_new


def record_inbound(session: Session, sid: str, channel: str, number: str, at: datetime) -> bool:
    """Keep an inbound message; False when Twilio sent it before (a retry)."""
    return insert_new(session, InboundMessage, sid=sid, channel=channel, number=number, received_at=at)


def last_inbound(session: Session, channel: str, number: str) -> datetime | None:
    """When `number` last wrote to us on `channel`."""
    last = session.exec(
        select(func.max(InboundMessage.received_at)).where(
            InboundMessage.channel == channel, InboundMessage.number == number
        )
    ).one()
    return None if last is None else as_utc(last)


def contacts_with_phone(session: Session, number: str) -> Sequence[Contact]:
    return session.exec(select(Contact).where(Contact.phone == number).order_by(col(Contact.id))).all()


def answered(session: Session, contact_id: str, channel: str, number: str) -> str | None:
    """The message a text from `number` answers: our latest to it on `channel`."""
    return session.exec(
        select(Message.message_id)
        .where(Message.contact_id == contact_id, Message.channel == channel, Message.to == number)
        .order_by(col(Message.created_at).desc())
        .limit(1)
    ).first()
