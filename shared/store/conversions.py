"""Conversions recorded by `record_conversion` steps, each with its
`conversion` event (returned for the caller to store in the same transaction
and deliver through the event bus), and their totals per automation."""

from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from shared.domain.events import Event
from shared.store.db import Conversion, utcnow


def record(session: Session, key: str, **fields: Any) -> list[Event]:
    """Record the conversion of step run `key` and its event (id `<key>/0`);
    nothing when that step run recorded it already."""
    if session.get(Conversion, key) is not None:
        return []
    event_id, now = f"{key}/0", utcnow()
    row = Conversion(key=key, event_id=event_id, occurred_at=now, **fields)
    session.add(row)
    data = {
        "name": row.name,
        **({"value": fields["value"]} if fields.get("value") is not None else {}),
        **({"currency": row.currency} if row.currency else {}),
        "automation_id": row.automation_id,
        "version": row.version,
        "step_id": row.step_id,
        "enrollment_id": row.enrollment_id,
        **({"message_id": row.message_id} if row.message_id else {}),
    }
    return [Event(id=event_id, contact_id=row.contact_id, type="conversion", occurred_at=now, data=data)]


def totals(session: Session, automation_id: str) -> list[tuple[str, int, float | None]]:
    """(name, how many, the sum of their values) per conversion name, by name."""
    query = (
        select(Conversion.name, func.count(), func.sum(col(Conversion.value)))
        .where(Conversion.automation_id == automation_id)
        .group_by(col(Conversion.name))
        .order_by(col(Conversion.name))
    )
    return [(name, count, total) for name, count, total in session.exec(query).all()]
