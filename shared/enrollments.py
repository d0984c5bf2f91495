"""Enrollment records and the entry rules of SPEC §5.

The database row of an enrollment is what event routing reads; its workflow
id is unique in Temporal, which is what makes a contact's entry exclusive:
concurrent requests compute the same id and only one start succeeds.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, true
from sqlmodel import Session, col, select

from shared.contacts import Conflict, NotFound, get_contact
from shared.contracts import EnrollmentView, RegisterInput
from shared.db import (
    AutomationRow,
    AutomationVersion,
    Contact,
    EnrollmentRow,
    EventRow,
    insert_new,
    utcnow,
)
from shared.definition import Automation
from shared.eventbus import from_row
from shared.events import Event
from shared.ids import enrollment_id

_versions: dict[tuple[str, str, int], Automation] = {}


def load_version(session: Session, automation_id: str, version: int) -> Automation:
    """A saved version, parsed once per process: versions never change."""
    key = (str(session.get_bind().url), automation_id, version)
    if key not in _versions:
        row = session.get(AutomationVersion, (automation_id, version))
        if row is None:
            raise NotFound("version", f"{automation_id}/{version}")
        _versions[key] = Automation.model_validate(row.definition)
    return _versions[key]


@dataclass(frozen=True)
class Entry:
    enrollment_id: str
    automation_id: str
    version: int
    contact_id: str
    seq: int
    automation: Automation


# The statements on every enrollment's path are built once: SQLAlchemy building
# and coercing them on each call cost ten times what running them costs.
_LAST_ENROLLMENT = (
    select(EnrollmentRow.seq, EnrollmentRow.status)
    .where(
        EnrollmentRow.automation_id == bindparam("automation_id"),
        EnrollmentRow.contact_id == bindparam("contact_id"),
    )
    .order_by(col(EnrollmentRow.seq).desc())
    .limit(1)
    .subquery()
)
_ENTRY = (
    select(
        AutomationRow.latest_version,
        AutomationRow.archived,
        Contact.id,
        _LAST_ENROLLMENT.c.seq,
        _LAST_ENROLLMENT.c.status,
    )
    .select_from(AutomationRow)
    .outerjoin(Contact, col(Contact.id) == bindparam("contact_id"))
    .outerjoin(_LAST_ENROLLMENT, true())
    .where(AutomationRow.id == bindparam("automation_id"))
)


def plan_entry(session: Session, automation_id: str, contact_id: str) -> Entry:
    """Check that `contact_id` may enter `automation_id` now, and name its enrollment.
    One statement reads the automation, the contact and its last enrollment there
    (as three ORM reads, a quarter of the API's CPU: py-spy, bench.enroll_throughput)."""
    found = (
        session.connection()
        .execute(_ENTRY, {"automation_id": automation_id, "contact_id": contact_id})
        .first()
    )
    if found is None:
        raise NotFound("automation", automation_id)
    version, archived, contact, last_seq, last_status = found
    if archived:
        raise Conflict(f"automation '{automation_id}' is archived and takes no new enrollments")
    if contact is None:
        raise NotFound("contact", contact_id)
    definition = load_version(session, automation_id, version)
    if last_status == "running":
        raise Conflict(
            f"contact '{contact_id}' is already in automation '{automation_id}' "
            f"({enrollment_id(automation_id, contact_id, last_seq)})"
        )
    if last_seq is not None and definition.reentry == "never":
        raise Conflict(
            f"contact '{contact_id}' was enrolled before and automation '{automation_id}' has reentry 'never'"
        )
    seq = (last_seq or 0) + 1
    return Entry(
        enrollment_id=enrollment_id(automation_id, contact_id, seq),
        automation_id=automation_id,
        version=version,
        contact_id=contact_id,
        seq=seq,
        automation=definition,
    )


def record(session: Session, entry: RegisterInput) -> None:
    """Insert the enrollment's row if it is not there yet (the API and the
    workflow's first activity both call this; either may come first)."""
    insert_new(session, EnrollmentRow, id=entry.enrollment_id, **entry.model_dump(exclude={"enrollment_id"}))
    session.commit()


_ENROLLMENT_ID = select(EnrollmentRow.id).where(EnrollmentRow.id == bindparam("id"))
# Columns, not ORM objects: usually there are none, and the ORM's setup for
# loading them cost more than the query.
_EVENTS_SINCE = (
    select(EventRow.id, EventRow.contact_id, EventRow.type, EventRow.occurred_at, EventRow.data)
    .where(EventRow.contact_id == bindparam("contact_id"), EventRow.occurred_at >= bindparam("since"))
    .order_by(EventRow.received_at)
)


def register(session: Session, entry: RegisterInput) -> list[Event]:
    """The workflow's side of `record`, which then returns the contact's events
    stored since the enrollment started: those signalled before it existed.
    The API has usually recorded the row by then; reading first spares this
    process a write lock, which SQLite shares with the API's writes."""
    known = session.connection().execute(_ENROLLMENT_ID, {"id": entry.enrollment_id}).first()
    if known is None:
        record(session, entry)
    return events_since(session, entry.contact_id, entry.enrolled_at)


def events_since(session: Session, contact_id: str, since: datetime) -> list[Event]:
    rows = session.connection().execute(_EVENTS_SINCE, {"contact_id": contact_id, "since": since})
    return [from_row(r) for r in rows]


def finish(session: Session, view: EnrollmentView) -> None:
    row = session.get(EnrollmentRow, view.enrollment_id)
    if row is None:
        return
    row.status = view.status
    row.end_reason = view.end_reason
    row.ended_at = row.ended_at or utcnow()
    row.final_state = view.model_dump(mode="json")
    session.add(row)
    session.commit()


def get_row(session: Session, enrollment_id_: str) -> EnrollmentRow:
    row = session.get(EnrollmentRow, enrollment_id_)
    if row is None:
        raise NotFound("enrollment", enrollment_id_)
    return row


def list_for_contact(session: Session, contact_id: str) -> list[EnrollmentRow]:
    get_contact(session, contact_id)
    query = select(EnrollmentRow).where(EnrollmentRow.contact_id == contact_id)
    return list(session.exec(query.order_by(EnrollmentRow.enrolled_at)))


def summary(row: EnrollmentRow) -> dict[str, Any]:
    return {
        "enrollment_id": row.id,
        "automation_id": row.automation_id,
        "version": row.version,
        "contact_id": row.contact_id,
        "status": row.status,
        "end_reason": row.end_reason,
    }
