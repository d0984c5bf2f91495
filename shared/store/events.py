"""Events as stored rows."""

from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy.engine import Row
from sqlmodel import Session, col, select

from shared.domain.events import Event
from shared.store.db import EventRow, utcnow


def to_row(event: Event) -> EventRow:
    return EventRow(
        id=event.id,
        contact_id=event.contact_id,
        type=event.type,
        occurred_at=event.occurred_at,
        data=event.data,
        received_at=utcnow(),
    )


def from_row(row: EventRow | Row[Any]) -> Event:
    """An event from its stored row, or from a row of those columns."""
    return Event(
        id=row.id,
        contact_id=row.contact_id,
        type=row.type,  # type: ignore[arg-type]
        occurred_at=row.occurred_at,
        data=row.data,
    )


def received_since(session: Session, since: datetime) -> int:
    """How many events came in after `since`."""
    query = select(func.count()).select_from(EventRow).where(col(EventRow.received_at) > since)
    return int(session.exec(query).one())
