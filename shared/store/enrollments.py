"""Enrollment records and the entry rules of SPEC §5.

The database row of an enrollment is what event routing reads; its workflow
id is unique in Temporal, which is what makes a contact's entry exclusive:
concurrent requests compute the same id and only one start succeeds.
"""

import json
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import bindparam, delete, insert, true
from sqlmodel import Session, col, select

from shared.contracts import (
    EnrollmentSnapshot,
    EnrollmentView,
    HistoryChunk,
    HistoryEntry,
    MessageRef,
    RegisterInput,
)
from shared.domain.conditions import Condition
from shared.domain.definition import Automation, Plan, plan_of
from shared.domain.errors import Conflict, NotFound
from shared.domain.events import Event, signalled
from shared.domain.ids import enrollment_id
from shared.domain.limits import MiB
from shared.domain.paging import WHOLE, Page
from shared.domain.triggers import Trigger
from shared.store.cache import PerEngine
from shared.store.contacts import get_contact
from shared.store.db import (
    AutomationRow,
    AutomationVersion,
    Contact,
    EnrollmentRow,
    EventRow,
    HistoryRow,
    Message,
    insert_new,
    utcnow,
)
from shared.store.events import from_row
from shared.store.paging import paged


@dataclass(frozen=True)
class Published:
    """What starting an enrollment needs of a saved version: its name and
    re-entry rule, and the plan its enrollments run (no message content);
    and what its triggers need: the triggers and the segment."""

    name: str
    reentry: str
    plan: Plan
    triggers: list[Trigger] = field(default_factory=list)
    segment: Condition | None = None


# Parsed once per process, as versions never change; plans of 1 to 256 KiB (STRUCTURE_BYTES).
_published: PerEngine[tuple[str, int], Published] = PerEngine(16 * MiB)


def published(session: Session, automation_id: str, version: int) -> Published:
    def load() -> tuple[Published, int]:
        row = session.get(AutomationVersion, (automation_id, version))
        if row is None:
            raise NotFound("version", f"{automation_id}/{version}")
        definition = Automation.model_validate(row.definition)
        plan = plan_of(definition)
        published = Published(
            definition.name, definition.reentry, plan, definition.triggers, definition.segment
        )
        return published, len(plan.model_dump_json()) + len(json.dumps(row.definition.get("triggers", [])))

    return _published(session.get_bind()).get((automation_id, version), load)  # type: ignore[arg-type]


class AlreadyEnrolled(Conflict):
    def __init__(self, automation_id: str, contact_id: str, enrollment_id: str):
        super().__init__(
            f"contact '{contact_id}' is already in automation '{automation_id}' ({enrollment_id})"
        )
        self.enrollment_id = enrollment_id


class AutomationPaused(Conflict):
    """A paused automation takes no one in: a trigger or a bulk enrollment counts it as a skip."""

    reason = "automation paused"

    def __init__(self, automation_id: str):
        super().__init__(
            f"automation '{automation_id}' is paused and takes no new enrollments until it is resumed"
        )


@dataclass(frozen=True)
class Entry:
    enrollment_id: str
    automation_id: str
    version: int
    contact_id: str
    seq: int
    published: Published


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
        AutomationRow.paused,
        Contact.id,
        _LAST_ENROLLMENT.c.seq,
        _LAST_ENROLLMENT.c.status,
    )
    .select_from(AutomationRow)
    .outerjoin(Contact, col(Contact.id) == bindparam("contact_id"))
    .outerjoin(_LAST_ENROLLMENT, true())
    .where(AutomationRow.id == bindparam("automation_id"))
)


class Archived(Conflict):
    def __init__(self, automation_id: str):
        super().__init__(f"automation '{automation_id}' is archived and takes no new enrollments")


class OnceOnly(Conflict):
    def __init__(self, automation_id: str, contact_id: str):
        super().__init__(
            f"contact '{contact_id}' was enrolled before and automation '{automation_id}' has reentry 'never'"
        )


def plan_entry(session: Session, automation_id: str, contact_id: str, version: int | None = None) -> Entry:
    """Check that `contact_id` may enter `automation_id` now, and name its enrollment,
    on `version` (by default the latest). One statement reads the automation, the
    contact and its last enrollment there (as three ORM reads, a quarter of the
    API's CPU: py-spy, bench.enroll_throughput)."""
    found = (
        session.connection()
        .execute(_ENTRY, {"automation_id": automation_id, "contact_id": contact_id})
        .first()
    )
    if found is None:
        raise NotFound("automation", automation_id)
    latest, archived, paused, contact, last_seq, last_status = found
    if archived:
        raise Archived(automation_id)
    if paused:
        raise AutomationPaused(automation_id)
    if contact is None:
        raise NotFound("contact", contact_id)
    version = version or latest
    definition = published(session, automation_id, version)
    if last_status == "running":
        raise AlreadyEnrolled(automation_id, contact_id, enrollment_id(automation_id, contact_id, last_seq))
    if last_seq is not None and definition.reentry == "never":
        raise OnceOnly(automation_id, contact_id)
    seq = (last_seq or 0) + 1
    return Entry(
        enrollment_id=enrollment_id(automation_id, contact_id, seq),
        automation_id=automation_id,
        version=version,
        contact_id=contact_id,
        seq=seq,
        published=definition,
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
    return [signalled(from_row(r)) for r in rows]


def finish(session: Session, snapshot: EnrollmentSnapshot) -> None:
    row = session.get(EnrollmentRow, snapshot.enrollment_id)
    if row is None:
        return
    row.status = snapshot.status
    row.end_reason = snapshot.end_reason
    row.ended_at = row.ended_at or utcnow()
    row.final_state = snapshot.model_dump(mode="json")
    session.add(row)
    session.commit()


def save_history(session: Session, chunk: HistoryChunk) -> None:
    """Keep the entries a run hands over before it continues as new. The run
    saving from `start` owns the entries from there: a retry saves nothing twice,
    and a run reset and run again replaces what it saved before."""
    session.exec(  # type: ignore[call-overload]
        delete(HistoryRow).where(
            col(HistoryRow.enrollment_id) == chunk.enrollment_id, col(HistoryRow.n) >= chunk.start
        )
    )
    rows = [
        {
            "enrollment_id": chunk.enrollment_id,
            "n": chunk.start + i,
            "step_id": entry.step_id,
            "outcome": entry.outcome,
            "at": entry.at,
            "detail": entry.model_dump(mode="json", include={"detail"})["detail"],
        }
        for i, entry in enumerate(chunk.entries)
    ]
    if rows:
        session.connection().execute(insert(HistoryRow.__table__), rows)  # type: ignore[attr-defined]
    session.commit()


def complete(session: Session, snapshot: EnrollmentSnapshot) -> EnrollmentView:
    """The whole view of an enrollment: what its earlier runs left in the
    database, then what the snapshot carries."""
    history = snapshot.history
    if snapshot.history_start:
        earlier = session.exec(
            select(HistoryRow)
            .where(
                HistoryRow.enrollment_id == snapshot.enrollment_id, col(HistoryRow.n) < snapshot.history_start
            )
            .order_by(col(HistoryRow.n))
        )
        history = [HistoryEntry.model_validate(r, from_attributes=True) for r in earlier] + history
    messages = snapshot.messages
    if snapshot.messages_start:
        carried = {m.message_id for m in messages}
        earlier = sent_messages(session, snapshot.enrollment_id)
        messages = [m for m in earlier if m.message_id not in carried] + messages
    return snapshot.view(history=history, messages=messages)


def sent_messages(session: Session, enrollment_id: str, skip: int = 0) -> list[MessageRef]:
    """The messages the outbox holds for an enrollment, oldest first, but the
    first `skip`; not the internal ones (notify steps'), which are not the contact's."""
    rows = session.exec(
        select(Message.message_id, Message.step_id, Message.channel)
        .where(
            Message.enrollment_id == enrollment_id, Message.status == "sent", Message.channel != "internal"
        )
        .order_by(col(Message.created_at), col(Message.message_id))
        .offset(skip)
    )
    return [MessageRef(message_id=m, step_id=s, channel=c) for m, s, c in rows]


def get_row(session: Session, enrollment_id_: str) -> EnrollmentRow:
    row = session.get(EnrollmentRow, enrollment_id_)
    if row is None:
        raise NotFound("enrollment", enrollment_id_)
    return row


def list_for_contact(session: Session, contact_id: str, page: Page = WHOLE) -> list[EnrollmentRow]:
    """The contact's enrollments, oldest first (one more than `page.limit`, to tell a next page)."""
    get_contact(session, contact_id)
    query = select(EnrollmentRow).where(EnrollmentRow.contact_id == contact_id)
    return list(session.exec(paged(query, col(EnrollmentRow.enrolled_at), col(EnrollmentRow.id), page)))
