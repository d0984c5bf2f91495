"""What the steps that reach into another automation read and record: the
step run's claim (`step_runs`, keyed by the step run), the enrollment a step
run started or ends, the contact's entries by automations lately (the loop
bound), a sequence and its sender's count for today."""

from datetime import datetime
from email.utils import parseaddr
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from shared.domain.errors import NotFound
from shared.store.db import AutomationRow, EnrollmentRow, Sender, SenderDay, StepRun, insert_new, utcnow
from shared.store.enrollments import Published, published


def recorded(session: Session, key: str) -> dict[str, Any] | None:
    """What the step run recorded: its outcome, or its claim (`pending`)."""
    run = session.get(StepRun, key)
    return None if run is None else dict(run.result)


def record_once(session: Session, key: str, result: dict[str, Any]) -> dict[str, Any]:
    """Record `result` for the step run unless an attempt recorded something
    first; what is recorded now. A claim is `{"pending": true, ...}`, recorded
    before the step does anything, which a retry finds."""
    found = recorded(session, key)
    if found is not None:
        return found
    if not insert_new(session, StepRun, key=key, result=result):
        session.rollback()  # A concurrent attempt of the same step run came first.
        return record_once(session, key, result)
    session.commit()
    return result


def settle(session: Session, key: str, result: dict[str, Any]) -> dict[str, Any]:
    """Record the step run's outcome in place of its claim; an outcome an
    attempt recorded first stays, and is returned."""
    run = session.get(StepRun, key, with_for_update=True)
    assert run is not None, f"step run {key} was never claimed"
    if not run.result.get("pending"):
        return dict(run.result)
    run.result = result
    session.add(run)
    session.commit()
    return result


def last_seq(session: Session, automation_id: str, contact_id: str) -> int:
    """The number of the contact's latest enrollment in the automation; 0: none."""
    query = select(func.max(EnrollmentRow.seq)).where(
        EnrollmentRow.automation_id == automation_id, EnrollmentRow.contact_id == contact_id
    )
    return session.exec(query).one() or 0


def started_after(
    session: Session, automation_id: str, contact_id: str, entered_by: dict[str, Any], seq: int
) -> str | None:
    """The contact's enrollment in the automation, later than its `seq`-th,
    that `entered_by` started: what an earlier attempt of a step run started
    (its row is written by the starter or by the enrollment itself)."""
    query = select(EnrollmentRow.id, EnrollmentRow.entered_by).where(
        EnrollmentRow.automation_id == automation_id,
        EnrollmentRow.contact_id == contact_id,
        col(EnrollmentRow.seq) > seq,
    )
    return next((found for found, by in session.exec(query) if by == entered_by), None)


def entered_by_automations(session: Session, contact_id: str, since: datetime) -> int:
    """How many enrollments automations started for the contact since `since`
    (a contact has few enrollments in a loop's window: filtered here, not in SQL JSON)."""
    query = select(EnrollmentRow.entered_by).where(
        EnrollmentRow.contact_id == contact_id, col(EnrollmentRow.enrolled_at) >= since
    )
    return sum(1 for by in session.exec(query) if by and "automation" in by)


def running_in(session: Session, automation_id: str, contact_id: str) -> str | None:
    """The contact's running enrollment in the automation, if any."""
    query = select(EnrollmentRow.id).where(
        EnrollmentRow.automation_id == automation_id,
        EnrollmentRow.contact_id == contact_id,
        EnrollmentRow.status == "running",
    )
    return session.exec(query).first()


def latest(session: Session, automation_id: str, what: str) -> tuple[AutomationRow, Published]:
    """The automation and its latest version; NotFound names it `what` ("sequence")."""
    row = session.get(AutomationRow, automation_id)
    if row is None:
        raise NotFound(what, automation_id)
    return row, published(session, automation_id, row.latest_version)


def limit_reached(session: Session, sender: str) -> bool:
    """Whether the sender (registered with POST /senders) has sent its daily
    limit today (UTC), by the count its sends take (`shared.store.senders`)."""
    address = parseaddr(sender)[1].lower()
    registered = session.get(Sender, address)
    if registered is None or registered.daily_limit is None:
        return False
    today = session.get(SenderDay, (address, utcnow().date().isoformat()))
    return (today.sent if today else 0) >= registered.daily_limit
