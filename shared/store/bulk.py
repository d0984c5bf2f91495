"""Bulk enrollments' rows, and the pages of contacts they read: by id, in id
order, after the cursor (keyset paging: contacts added or removed meanwhile
never shift a page)."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import update
from sqlmodel import Session, col, select

from shared.domain.bulk import FINAL
from shared.domain.conditions import Condition
from shared.domain.errors import NotFound
from shared.domain.paging import Page
from shared.store import lists, segments
from shared.store.db import BulkEnrollmentRow, EnrollmentRow, utcnow
from shared.store.paging import paged

_CONDITION: TypeAdapter[Condition] = TypeAdapter(Condition)


def create(
    session: Session,
    bulk_id: str,
    automation_id: str,
    version: int,
    source: dict[str, Any],
    rate: float | None,
) -> BulkEnrollmentRow:
    row = BulkEnrollmentRow(
        id=bulk_id,
        automation_id=automation_id,
        version=version,
        source=source,
        rate=rate,
        started_at=utcnow(),
    )
    session.add(row)
    session.commit()
    session.refresh(row)
    return row


def get(session: Session, bulk_id: str) -> BulkEnrollmentRow:
    row = session.get(BulkEnrollmentRow, bulk_id)
    if row is None:
        raise NotFound("bulk enrollment", bulk_id)
    return row


def of_automation(session: Session, automation_id: str, page: Page) -> list[BulkEnrollmentRow]:
    """The automation's bulk enrollments, oldest first (one more than `page.limit`)."""
    query = select(BulkEnrollmentRow).where(BulkEnrollmentRow.automation_id == automation_id)
    return list(
        session.exec(paged(query, col(BulkEnrollmentRow.started_at), col(BulkEnrollmentRow.id), page))
    )


def unfinished(session: Session) -> list[BulkEnrollmentRow]:
    """Those still to be driven: running or paused."""
    return list(session.exec(select(BulkEnrollmentRow).where(col(BulkEnrollmentRow.status).not_in(FINAL))))


def set_status(
    session: Session, bulk_id: str, status: str, unless: frozenset[str] = FINAL
) -> BulkEnrollmentRow:
    """Move it to `status`, unless it is in one of `unless` already (by default: ended)."""
    row = get(session, bulk_id)
    if row.status not in unless:
        row.status = status
        if status in FINAL:
            row.finished_at = utcnow()
        session.add(row)
        session.commit()
        session.refresh(row)
    return row


def next_page(session: Session, source: dict[str, Any], after: str | None, limit: int) -> list[str]:
    """The next `limit` contact ids of the source after `after`, in id order.
    Fewer than `limit`: the last page."""
    if "contact_ids" in source:
        ids = sorted(set(source["contact_ids"]))
        return [i for i in ids if after is None or i > after][:limit]
    if "list" in source:
        return lists.members_after(session, source["list"], after, limit)
    segment: Condition = segment_of(source)
    return segments.page_matching(session, segment, after, limit)


def segment_of(source: dict[str, Any]) -> Condition:
    return _CONDITION.validate_python(source["segment"])  # type: ignore[no-any-return]


def count(session: Session, source: dict[str, Any]) -> int:
    """How many contacts the source reads now: a dry run's answer."""
    if "contact_ids" in source:
        return len(set(source["contact_ids"]))
    total, after = 0, None
    while page := next_page(session, source, after, segments.BATCH):
        total += len(page)
        after = page[-1]
    return total


def entered_by_bulk(
    session: Session, bulk_id: str, automation_id: str, contact_ids: Sequence[str]
) -> set[str]:
    """Which of the contacts this bulk enrollment enrolled already: an earlier
    attempt at their page got that far (the row says what started it, written
    by the starter or by the enrollment itself)."""
    query = select(EnrollmentRow.contact_id, EnrollmentRow.entered_by).where(
        EnrollmentRow.automation_id == automation_id, col(EnrollmentRow.contact_id).in_(list(contact_ids))
    )
    return {contact for contact, by in session.exec(query) if by and by.get("bulk_id") == bulk_id}


def advance(
    session: Session,
    bulk_id: str,
    cursor: str | None,
    to: str | None,
    outcome: "PageCounts",
    last: bool,
) -> BulkEnrollmentRow | None:
    """Record a finished page: the cursor moves from `cursor` to `to` and the
    counts grow, in one commit; the last page completes it (unless it ended
    meanwhile). None when the cursor was not at `cursor`: another attempt at
    the same page recorded it first, and this one counts nothing."""
    row = get(session, bulk_id)
    if row.cursor != cursor or row.status in FINAL:
        return None
    values: dict[str, Any] = {
        "cursor": to,
        "matched": row.matched + outcome.matched,
        "enrolled": row.enrolled + outcome.enrolled,
        "failed": row.failed + outcome.failed,
        "skipped": {**row.skipped, **{r: row.skipped.get(r, 0) + n for r, n in outcome.skipped.items()}},
    }
    if last:
        values |= {"status": "completed", "finished_at": utcnow()}
    # Optimistic: the update holds only if nobody recorded this page since the read.
    moved = session.execute(
        update(BulkEnrollmentRow)
        .where(
            col(BulkEnrollmentRow.id) == bulk_id,
            col(BulkEnrollmentRow.matched) == row.matched,
            col(BulkEnrollmentRow.status).not_in(FINAL),
        )
        .values(**values)
    )
    session.commit()
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        return None
    session.refresh(row)
    return row


@dataclass
class PageCounts:
    """What one page came to."""

    matched: int = 0
    enrolled: int = 0
    failed: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1
