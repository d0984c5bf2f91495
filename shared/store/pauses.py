"""An automation's pause in the database: the flag, and the enrollments whose
sends it holds (`held_sends`).

A send activity that finds the automation paused records its enrollment as
held in a transaction that reads the flag again under a lock, and a resume
changes the flag before it lists the held enrollments: so an enrollment held
is either seen by the resume that ends its pause, or finds that resume
already committed (and sends)."""

from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Any

from sqlalchemy import bindparam, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col

from shared.domain.errors import NotFound
from shared.store.db import AutomationRow, HeldSend, utcnow

_PAUSE = select(AutomationRow.paused, AutomationRow.pauses).where(AutomationRow.id == bindparam("id"))
# PostgreSQL: waits for a resume under way, and holds the next one until this commits.
_PAUSE_LOCKED = _PAUSE.with_for_update(read=True)


@cache
def _held(dialect: str) -> Any:
    # Built once per dialect, as the statements on every enrollment's path are.
    insert = (postgresql if dialect == "postgresql" else sqlite).insert(HeldSend.__table__)  # type: ignore[attr-defined]
    return insert.on_conflict_do_update(
        index_elements=["enrollment_id"],
        set_={
            "step_id": insert.excluded.step_id,
            "pause": insert.excluded.pause,
            "held_at": insert.excluded.held_at,
        },
    )


@dataclass(frozen=True)
class Release:
    """A held enrollment to signal: its automation resumed after pause `pause`."""

    enrollment_id: str
    automation_id: str
    pause: int
    stale_after: timedelta | None


def _row(session: Session, automation_id: str) -> AutomationRow:
    row = session.get(AutomationRow, automation_id, with_for_update=True)
    if row is None:
        raise NotFound("automation", automation_id)
    return row


def pause(session: Session, automation_id: str) -> None:
    """Pause the automation; pausing it again changes nothing."""
    row = _row(session, automation_id)
    if not row.paused:
        row.paused = True
        row.pauses += 1
        session.add(row)
    session.commit()


def resume(session: Session, automation_id: str, stale_after: timedelta | None) -> None:
    """Resume the automation; sends held longer than `stale_after` will be
    skipped. Resuming one that is not paused changes nothing."""
    row = _row(session, automation_id)
    if row.paused:
        row.paused = False
        row.stale_after_seconds = None if stale_after is None else int(stale_after.total_seconds())
        session.add(row)
    session.commit()


def hold_if_paused(session: Session, automation_id: str, enrollment_id: str, step_id: str) -> int | None:
    """If the automation is paused: record the enrollment's send as held, and
    return the pause's number. None when it is not paused (the send goes on)."""
    found = session.connection().execute(_PAUSE, {"id": automation_id}).first()
    if found is None or not found.paused:
        return None
    session.rollback()
    connection = session.connection()
    # Written first: on SQLite the write lock, taken here, keeps a resume out until this commits.
    connection.execute(
        _held(connection.dialect.name),
        {
            "enrollment_id": enrollment_id,
            "automation_id": automation_id,
            "step_id": step_id,
            "pause": found.pauses,
            "held_at": utcnow(),
        },
    )
    again = connection.execute(_PAUSE_LOCKED, {"id": automation_id}).first()
    if again is None or not again.paused:
        session.rollback()  # Resumed meanwhile: the send goes out.
        return None
    session.commit()
    return int(again.pauses)


def releasable(session: Session, automation_id: str | None = None, limit: int = 500) -> list[Release]:
    """Held enrollments whose automation is no longer paused (of `automation_id` only, when given)."""
    query = (
        select(
            HeldSend.enrollment_id,
            HeldSend.automation_id,
            AutomationRow.pauses,
            AutomationRow.stale_after_seconds,
        )
        .join(AutomationRow, col(AutomationRow.id) == HeldSend.automation_id)
        .where(col(AutomationRow.paused).is_(False))
        .order_by(col(HeldSend.held_at), col(HeldSend.enrollment_id))
        .limit(limit)
    )
    if automation_id is not None:
        query = query.where(col(HeldSend.automation_id) == automation_id)
    return [
        Release(enrollment_id, automation, pauses, None if seconds is None else timedelta(seconds=seconds))
        for enrollment_id, automation, pauses, seconds in session.connection().execute(query)
    ]


def released(session: Session, releases: list[Release]) -> None:
    """Forget the enrollments the resume reached. One held again since, by a
    later pause, stays."""
    for release in releases:
        session.connection().execute(
            delete(HeldSend).where(
                col(HeldSend.enrollment_id) == release.enrollment_id, col(HeldSend.pause) <= release.pause
            )
        )
    session.commit()
