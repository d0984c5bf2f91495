"""Enrollments that ended in Temporal without their workflow code running: an
operator's "Terminate" in the UI or the CLI (or a run timeout). goalflow notices
when the enrollment is read, and the worker's sweep finds the rows still marked
running. A reset also terminates a run, but its enrollment goes on in the new
run: only the latest run of an enrollment says whether it ended."""

import logging
from dataclasses import dataclass
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
from temporalio.service import RPCError, RPCStatusCode

from shared.contracts import STATE_QUERY, ByApi, EnrollmentSnapshot, HistoryEntry, Status
from shared.store.db import EnrollmentRow, HistoryRow, Message, run_db, utcnow

log = logging.getLogger("goalflow.reconcile")

# How each way of closing a run from outside reads as the enrollment's end.
# Cancellation is handled by the workflow itself: a run closed as cancelled and
# not recorded comes from code older than that, or was cancelled as it saved its end.
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
# Below SQLite's limit on the variables of one statement.
_IDS_PER_QUERY = 500


@dataclass(frozen=True)
class _Closed:
    status: Status
    outcome: str
    reason: str
    at: datetime
    # Whether Temporal still has the history, so a worker can replay the last state.
    replayable: bool = True


async def settle(client: Client, engine: Engine, enrollment_id: str) -> EnrollmentSnapshot | None:
    """If the latest run of a running enrollment closed without saving its end,
    record the end (status, reason, last state) and return it. None while the
    enrollment runs, or when it was recorded already."""
    row = await run_db(engine, lambda: _row(engine, enrollment_id))
    if row is None or row.status != "running":
        return None
    closed = await _closed(client, enrollment_id)
    if closed is None:
        return None
    last = await _last_state(client, enrollment_id) if closed.replayable else None
    if last is None:
        last = await run_db(engine, lambda: _saved_parts(engine, row))
    # A run that reached its end but not the saving of it (terminated while retrying) keeps its own end.
    snapshot = last if last.status != "running" else _ended(last, closed)

    def save() -> bool:
        with Session(engine) as session:
            saved = session.exec(  # type: ignore[call-overload]
                update(EnrollmentRow)
                .where(col(EnrollmentRow.id) == enrollment_id, col(EnrollmentRow.status) == "running")
                .values(
                    status=snapshot.status,
                    end_reason=snapshot.end_reason,
                    ended_at=closed.at,
                    final_state=snapshot.model_dump(mode="json"),
                )
            )
            session.commit()
            return bool(saved.rowcount)

    if not await run_db(engine, save):
        return None
    log.info("%s ended in Temporal: %s", enrollment_id, snapshot.end_reason)
    return snapshot


async def _closed(client: Client, enrollment_id: str) -> _Closed | None:
    """How the enrollment's latest run was closed from outside; None while it runs."""
    try:
        description = await client.get_workflow_handle(enrollment_id).describe()
    except RPCError as error:
        if error.status != RPCStatusCode.NOT_FOUND:
            raise
        # Its history is gone: past the namespace's retention, or a new server.
        return _Closed("removed", "gone", "gone from Temporal", utcnow(), replayable=False)
    end = _ENDS.get(description.status) if description.status else None
    if end is None:
        return None
    status, outcome, reason = end
    detail = await _close_detail(client, enrollment_id)
    return _Closed(
        status, outcome, f"{reason}: {detail}" if detail else reason, description.close_time or utcnow()
    )


async def _last_state(client: Client, enrollment_id: str) -> EnrollmentSnapshot | None:
    """The run's last state, replayed by a worker from its history."""
    try:
        return await client.get_workflow_handle(enrollment_id).query(
            STATE_QUERY, result_type=EnrollmentSnapshot, rpc_timeout=_QUERY_TIMEOUT
        )
    except (RPCError, WorkflowQueryFailedError) as error:
        log.warning(
            "%s: its last state could not be replayed (%s); saving its end only", enrollment_id, error
        )
        return None


def _saved_parts(engine: Engine, row: EnrollmentRow) -> EnrollmentSnapshot:
    """Without a replay: what the database holds, the history its runs saved and its messages."""
    with Session(engine) as session:
        saved = session.exec(select(func.count()).where(HistoryRow.enrollment_id == row.id)).one()
        sent = session.exec(
            select(func.count()).where(Message.enrollment_id == row.id, Message.status == "sent")
        ).one()
    return EnrollmentSnapshot(
        enrollment_id=row.id, automation_id=row.automation_id, version=row.version,
        contact_id=row.contact_id, status="running", end_reason=None, current_step=None,
        goals_met=[], messages=[], history=[], history_start=saved, messages_start=sent,
        entered_by=row.entered_by or ByApi(),
    )  # fmt: skip


def _row(engine: Engine, enrollment_id: str) -> EnrollmentRow | None:
    with Session(engine, expire_on_commit=False) as session:
        return session.get(EnrollmentRow, enrollment_id)


def _ended(last: EnrollmentSnapshot, closed: _Closed) -> EnrollmentSnapshot:
    """The last state with the end recorded as the workflow records any end:
    the step the contact was at, then `end`."""
    history = list(last.history)
    if last.current_step:
        history.append(HistoryEntry(step_id=last.current_step, outcome=closed.outcome, at=closed.at))
    detail = {"reason": closed.reason, "status": closed.status}
    history.append(HistoryEntry(step_id="end", outcome="ended", at=closed.at, detail=detail))
    return last.model_copy(
        update={
            "status": closed.status,
            "end_reason": closed.reason,
            "current_step": None,
            "history": history,
        }
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
        self.listing = True

    async def run_once(self) -> int:
        """One pass; returns how many enrollments it recorded as ended."""
        started = utcnow()
        since = self.since or await run_db(self.engine, self._oldest_running)
        if since is None or not self.listing:
            self.since = started - _SWEEP_OVERLAP
            return 0
        query = (
            f"TaskQueue = '{self.task_queue}' AND ExecutionStatus IN {_VISIBLE_ENDS} "
            f"AND CloseTime >= '{since.isoformat()}'"
        )
        try:
            closed = list(
                dict.fromkeys([execution.id async for execution in self.client.list_workflows(query)])
            )
        except RPCError as error:
            if error.status != RPCStatusCode.UNIMPLEMENTED:
                raise
            # Temporal's time-skipping test server has no visibility.
            log.warning("this Temporal server cannot list workflows: terminations are noticed on reads only")
            self.listing = False
            return 0
        running = await run_db(self.engine, lambda: self._still_running(closed))
        settled = 0
        for enrollment_id in running:  # One at a time: each may have a worker replay a history.
            settled += await settle(self.client, self.engine, enrollment_id) is not None
        self.since = started - _SWEEP_OVERLAP
        return settled

    def _oldest_running(self) -> datetime | None:
        with Session(self.engine) as session:
            return session.exec(
                select(func.min(EnrollmentRow.enrolled_at)).where(EnrollmentRow.status == "running")
            ).one()

    def _still_running(self, ids: list[str]) -> list[str]:
        running: list[str] = []
        with Session(self.engine) as session:
            for chunk in range(0, len(ids), _IDS_PER_QUERY):
                query = select(EnrollmentRow.id).where(
                    col(EnrollmentRow.id).in_(ids[chunk : chunk + _IDS_PER_QUERY]),
                    EnrollmentRow.status == "running",
                )
                running.extend(session.exec(query))
        return running
