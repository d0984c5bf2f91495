"""Senders and their daily limits."""

from sqlalchemy import update
from sqlmodel import Session, col

from shared.store.db import Sender, SenderDay, insert_new, utcnow


def take_quota(session: Session, sender: Sender) -> bool:
    """Count one message against the sender's limit for today (UTC), in the
    caller's transaction; False when the limit is reached. Exact under
    concurrency: the conditional increment runs under the row's write lock."""
    day = utcnow().date().isoformat()
    insert_new(session, SenderDay, sender=sender.address, day=day, sent=0)
    taken = session.exec(  # type: ignore[call-overload]
        update(SenderDay)
        .where(
            col(SenderDay.sender) == sender.address,
            col(SenderDay.day) == day,
            col(SenderDay.sent) < sender.daily_limit,
        )
        .values(sent=SenderDay.sent + 1)
    )
    return bool(taken.rowcount)
