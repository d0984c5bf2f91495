"""Enrollments that ended in Temporal without their workflow code running: an
operator's "Terminate" in the UI or the CLI (or a run timeout). goalflow notices
when the enrollment is read, and the worker's sweep finds the rows still marked
running. A reset also terminates a run, but its enrollment goes on in the new
run: only the latest run of an enrollment says whether it ended."""

import asyncio
import logging
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHistoryEventFilterType,
    WorkflowQueryFailedError,
)
from temporalio.service import RPCError

from shared.contracts import STATE_QUERY, EnrollmentSnapshot, HistoryEntry, Status
from shared.db import EnrollmentRow, run_db, utcnow

log = logging.getLogger("goalflow.reconcile")

# How each way of closing a run from outside reads as the enrollment's end.
# Cancellation is handled by the workflow itself, so a run closed as cancelled
# and not recorded comes from code older than that.
_ENDS: dict[WorkflowExecutionStatus, tuple[Status, str, str]] = {
    WorkflowExecutionStatus.TERMINATED: ("removed", "terminated", "terminated in Temporal"),
    WorkflowExecutionStatus.CANCELED: ("removed", "cancelled", "cancelled in Temporal"),
    WorkflowExecutionStatus.TIMED_OUT: ("removed", "timed_out", "timed out in Temporal"),
    WorkflowExecutionStatus.FAILED: ("failed", "failed", "failed in Temporal"),
}
_VISIBLE_ENDS = "('Terminated', 'Canceled', 'TimedOut', 'Failed')"
# Visibility trails the close of a run: each sweep looks this far behind the last.
_SWEEP_OVERLAP = timedelta(minutes=2)
_QUERY_TIMEOUT = timedelta(seconds=10)


async def settle(client: Client, engine: Engine, enrollment_id: str) -> EnrollmentSnapshot | None:
    """If the latest run of a running enrollment closed without saving its end,
    record the end (status, reason, last state) and return it. None while the
    enrollment runs, or when it was recorded already."""
    row = await run_db(engine, lambda: _row(engine, enrollment_id))
    if row is None or row.status != "running":
        return None
    handle = client.get_workflow_handle(enrollment_id)
    description = await handle.describe()
    end = _ENDS.get(description.status) if description.status else None
    if end is None:
        return None
    status, outcome, reason = end
    detail = await _close_detail(client, enrollment_id)
    if detail:
        reason = f"{reason}: {detail}"
    try:
        # The run's last state, replayed by a worker from its history.
        last = await handle.query(STATE_QUERY, result_type=EnrollmentSnapshot, rpc_timeout=_QUERY_TIMEOUT)
    except (RPCError, WorkflowQueryFailedError) as error:
        log.warning(
            "%s: its last state could not be replayed (%s); saving its end only", enrollment_id, error
        )
        last = None
    closed_at = description.close_time or utcnow()
    last = last or EnrollmentSnapshot(
        enrollment_id=row.id, automation_id=row.automation_id, version=row.version,
        contact_id=row.contact_id, status="running", end_reason=None, current_step=None,
        goals_met=[], messages=[], history=[],
    )  # fmt: skip
    snapshot = _ended(last, status, outcome, reason, closed_at)

    def save() -> bool:
        with Session(engine) as session:
            saved = session.exec(  # type: ignore[call-overload]
                update(EnrollmentRow)
                .where(col(EnrollmentRow.id) == enrollment_id, col(EnrollmentRow.status) == "running")
                .values(
                    status=status,
                    end_reason=reason,
                    ended_at=closed_at,
                    final_state=snapshot.model_dump(mode="json"),
                )
            )
            session.commit()
            return bool(saved.rowcount)

    if not await run_db(engine, save):
        return None
    log.info("%s ended in Temporal: %s", enrollment_id, reason)
    return snapshot


def _row(engine: Engine, enrollment_id: str) -> EnrollmentRow | None:
    with Session(engine, expire_on_commit=False) as session:
        return session.get(EnrollmentRow, enrollment_id)


def _ended(
    last: EnrollmentSnapshot, status: Status, outcome: str, reason: str, at: datetime
) -> EnrollmentSnapshot:
    """The last state with the end recorded as the workflow records any end:
    the step the contact was at, then `end`."""
    history = list(last.history)
    if last.current_step:
        history.append(HistoryEntry(step_id=last.current_step, outcome=outcome, at=at))
    history.append(
        HistoryEntry(step_id="end", outcome="ended", at=at, detail={"reason": reason, "status": status})
    )
    return last.model_copy(
        update={"status": status, "end_reason": reason, "current_step": None, "history": history}
    )


async def _close_detail(client: Client, enrollment_id: str) -> str:
    """The reason an operator gave for the close, or the failure's message."""
    events = client.get_workflow_handle(enrollment_id).fetch_history_events(
        event_filter_type=WorkflowHistoryEventFilterType.CLOSE_EVENT
    )
    last = None
    async for event in events:  # One event; all of them where a server ignores the filter.
        last = event
    return _detail(last) if last else ""


def _detail(event: HistoryEvent) -> str:
    if event.HasField("workflow_execution_terminated_event_attributes"):
        return event.workflow_execution_terminated_event_attributes.reason
    if event.HasField("workflow_execution_failed_event_attributes"):
        return event.workflow_execution_failed_event_attributes.failure.message
    return ""


class Sweep:
    """Finds enrollments still marked running whose workflow was closed from
    outside. Each pass asks Temporal's visibility for runs of the task queue
    closed that way since the previous pass; the first looks back to the oldest
    running enrollment, so what happened while no worker ran is found too."""

    def __init__(self, client: Client, engine: Engine, task_queue: str):
        self.client, self.engine, self.task_queue = client, engine, task_queue
        self.since: datetime | None = None

    async def run_once(self) -> int:
        """One pass; returns how many enrollments it recorded as ended."""
        started = utcnow()
        since = self.since or await run_db(self.engine, self._oldest_running)
        if since is None:
            self.since = started - _SWEEP_OVERLAP
            return 0
        query = (
            f"TaskQueue = '{self.task_queue}' AND ExecutionStatus IN {_VISIBLE_ENDS} "
            f"AND CloseTime >= '{since.isoformat()}'"
        )
        closed = {execution.id async for execution in self.client.list_workflows(query)}
        running = await run_db(self.engine, lambda: self._still_running(closed)) if closed else []
        settled = await asyncio.gather(*(settle(self.client, self.engine, e) for e in running))
        self.since = started - _SWEEP_OVERLAP
        return sum(s is not None for s in settled)

    def _oldest_running(self) -> datetime | None:
        with Session(self.engine) as session:
            return session.exec(
                select(func.min(EnrollmentRow.enrolled_at)).where(EnrollmentRow.status == "running")
            ).one()

    def _still_running(self, ids: set[str]) -> list[str]:
        with Session(self.engine) as session:
            query = select(EnrollmentRow.id).where(
                col(EnrollmentRow.id).in_(ids), EnrollmentRow.status == "running"
            )
            return list(session.exec(query))
