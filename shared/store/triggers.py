"""Trigger firings (SPEC §5). Storing an event records, in the same
transaction, a firing for each automation whose version current at that moment
has a trigger the event fires. A firing is then evaluated once (segment, entry
rules, `enrollments.start`), right after the event is stored, or by the sweep
after a crash. Its key (automation, event, contact) is what makes one event
start one enrollment at most per automation."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, false, or_, update
from sqlmodel import Session, col, select

from shared.domain.definition import Automation
from shared.domain.events import Event
from shared.domain.triggers import fires
from shared.store.db import (
    AutomationRow,
    AutomationVersion,
    EnrollmentRow,
    Message,
    TriggerFiring,
    TriggerIndex,
    utcnow,
)
from shared.store.enrollments import published


@dataclass(frozen=True)
class Key:
    automation_id: str
    event_id: str
    contact_id: str

    def where(self) -> list[object]:
        return [
            TriggerFiring.automation_id == self.automation_id,
            TriggerFiring.event_id == self.event_id,
            TriggerFiring.contact_id == self.contact_id,
        ]


def index(session: Session, automation_id: str, version: int, automation: Automation) -> None:
    """Record which event types may fire the version's triggers (with the version, in its transaction)."""
    for event_type in sorted({t for trigger in automation.triggers for t in trigger.event_types()}):
        session.add(TriggerIndex(automation_id=automation_id, version=version, event_type=event_type))


# Automations not archived whose latest version has a trigger for the event's
# type and was published at or before the event occurred: earlier events never fire it.
_CANDIDATES = (
    select(TriggerIndex.automation_id, TriggerIndex.version)
    .join(
        AutomationRow,
        (col(AutomationRow.id) == TriggerIndex.automation_id)
        & (col(AutomationRow.latest_version) == TriggerIndex.version),
    )
    .join(
        AutomationVersion,
        (col(AutomationVersion.automation_id) == TriggerIndex.automation_id)
        & (col(AutomationVersion.version) == TriggerIndex.version),
    )
    .where(
        TriggerIndex.event_type == bindparam("event_type"),
        AutomationRow.archived == false(),
        col(AutomationVersion.created_at) <= bindparam("occurred_at"),
    )
    .order_by(col(TriggerIndex.automation_id))
)


def record_firings(session: Session, event: Event) -> int:
    """Record the firings of a new event, in the session that stores it; how many.
    Nothing is flushed before: a duplicate event id fails at the caller's commit."""
    with session.no_autoflush:
        return _record_firings(session, event)


def _record_firings(session: Session, event: Event) -> int:
    candidates = session.execute(
        _CANDIDATES, {"event_type": event.type, "occurred_at": event.occurred_at}
    ).all()
    if not candidates:
        return 0
    sent_by = _sent_by(session, event) if event.type.startswith("email.") else None
    now = utcnow()
    count = 0
    for automation_id, version in candidates:
        triggers = published(session, automation_id, version).triggers
        fired = next((i for i, t in enumerate(triggers) if fires(t, event, sent_by)), None)
        if fired is None:
            continue
        session.add(
            TriggerFiring(
                automation_id=automation_id,
                event_id=event.id,
                contact_id=event.contact_id,
                version=version,
                trigger=fired,
                created_at=now,
            )
        )
        count += 1
    return count


def _sent_by(session: Session, event: Event) -> str | None:
    """The automation whose enrollment sent the event's message to its contact."""
    query = (
        select(EnrollmentRow.automation_id)
        .join(Message, col(Message.enrollment_id) == EnrollmentRow.id)
        .where(
            Message.message_id == str(event.data.get("message_id")),
            Message.contact_id == event.contact_id,
            Message.channel == "email",
        )
    )
    return session.exec(query).first()


def pending(
    session: Session,
    event_ids: list[str] | None = None,
    stored_before: datetime | None = None,
    limit: int = 500,
) -> list[Key]:
    """Firings not evaluated yet: of these events, or stored before that moment, oldest first."""
    query = select(TriggerFiring.automation_id, TriggerFiring.event_id, TriggerFiring.contact_id).where(
        TriggerFiring.status == "pending"
    )
    if event_ids is not None:
        query = query.where(col(TriggerFiring.event_id).in_(event_ids))
    if stored_before is not None:
        query = query.where(TriggerFiring.created_at <= stored_before)
    query = query.order_by(col(TriggerFiring.created_at), col(TriggerFiring.event_id)).limit(limit)
    return [Key(*row) for row in session.exec(query)]


def claim(session: Session, key: Key, lease: timedelta) -> TriggerFiring | None:
    """Take the firing to evaluate it: None when it was evaluated, or another
    process holds it (a claim older than `lease` is a crashed process's)."""
    now = utcnow()
    taken = session.exec(  # type: ignore[call-overload]
        update(TriggerFiring)
        .where(
            *key.where(),
            col(TriggerFiring.status) == "pending",
            or_(col(TriggerFiring.claimed_at).is_(None), col(TriggerFiring.claimed_at) < now - lease),
        )
        .values(claimed_at=now)
    )
    session.commit()
    if not taken.rowcount:
        return None
    return session.get(TriggerFiring, (key.automation_id, key.event_id, key.contact_id))


def settle(
    session: Session, key: Key, status: str, reason: str | None = None, enrollment_id: str | None = None
) -> None:
    session.exec(  # type: ignore[call-overload]
        update(TriggerFiring)
        .where(*key.where())
        .values(status=status, reason=reason, enrollment_id=enrollment_id, fired_at=utcnow())
    )
    session.commit()


def release(session: Session, key: Key) -> None:
    """Leave the firing for the next pass of the sweep."""
    session.exec(update(TriggerFiring).where(*key.where()).values(claimed_at=None))  # type: ignore[call-overload]
    session.commit()


def started_by(session: Session, key: Key) -> str | None:
    """The enrollment this firing started, if an earlier attempt got that far
    (its row says what started it, written by the API or the enrollment itself)."""
    query = select(EnrollmentRow.id, EnrollmentRow.entered_by).where(
        EnrollmentRow.automation_id == key.automation_id, EnrollmentRow.contact_id == key.contact_id
    )
    for enrollment_id, entered_by in session.exec(query):
        if entered_by and "trigger" in entered_by and entered_by.get("event_id") == key.event_id:
            return enrollment_id
    return None
