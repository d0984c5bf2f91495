"""The enrollment workflow: an interpreter of one pinned automation version for
one contact. Each step type's handler is in `worker.steps`, the goal rules are
in `shared.domain.goals`, and all I/O is in activities."""

import asyncio
from collections.abc import Callable
from datetime import UTC, timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    CancelledError,
    is_cancelled_exception,
)
from temporalio.exceptions import TimeoutError as OutOfTime
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from shared.contracts import (
        CURRENT_STEP,
        EVENT_SIGNAL,
        GOALS_MET,
        REMOVE_UPDATE,
        RESUME_SIGNAL,
        STATE_QUERY,
        WORKFLOW_NAME,
        EnrollmentInput,
        EnrollmentSnapshot,
        EnrollmentState,
        FinishInput,
        HistoryChunk,
        HistoryEntry,
        MessageRef,
        RegisterInput,
        Resumed,
        SentMessagesInput,
        carried,
        event_bytes,
    )
    from shared.domain import goals
    from shared.domain.definition import END
    from shared.domain.durations import short_duration
    from shared.domain.events import Event
    from shared.domain.limits import EVENT_LOG_BYTES
    from shared.domain.sequences import ended_by
    from shared.domain.steps import PlannedStep
    from shared.domain.steps.wait_for_event import WaitForEvent
    from worker.steps import HANDLERS
    from worker.steps.wait_for_event import meets

T = TypeVar("T")

# Continue as new well before Temporal's own limits (50k events / 50 MB), or
# once a run's step history holds this many entries (they are saved first).
HISTORY_LIMIT = 4000
HISTORY_ENTRIES_PER_RUN = 500
# What runs from before `bounded-state` keep (by count, not bytes).
SEEN_IDS_KEPT = 2000
EVENT_LOG_KEPT = 500
# Error text kept in a failed step's history entry.
ERROR_CHARS = 1000
LOOP_BUDGET = 50
LOOP_WINDOW = timedelta(minutes=30)
RECORD_CUT_SHORT_SENDS = "record-cut-short-sends"
# The history is saved before continuing as new, a run continues as new once its
# history holds HISTORY_ENTRIES_PER_RUN entries, and the state is bounded in bytes.
BOUNDED_STATE = "bounded-state"
# A cancellation requested in Temporal ends the enrollment as removed, its state saved.
CANCELLED_IN_TEMPORAL = "cancelled-in-temporal"
# Every patch above, and `sends-over-the-network` and `tag-events-applied-here`
# (worker.steps), is on in a run that recorded this marker in its first activation;
# runs recorded before it ask each one where it first matters, as they did (`patched`).
PATCHES_DECIDED_AT_START = "patches-decided-at-start"
# Asked in each run's first activation, in this order. A new patch goes here, at
# the end: asked where it first matters, it could be recorded a task late (`__init__`).
DECIDED_AT_START = (PATCHES_DECIDED_AT_START,)
LOCAL = {"start_to_close_timeout": timedelta(seconds=30)}
# Errors the activity marks non-retryable (a template that fails to render)
# are recorded as a failed step; anything else is retried until it goes through.
RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_interval=timedelta(seconds=30))
# Steps that talk to the network: one attempt, and the backoff between attempts.
ATTEMPT = timedelta(seconds=60)
HEARTBEAT = timedelta(seconds=10)
REMOTE_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))


def failure_text(error: BaseException) -> str:
    """What a failed step records: the activity's own error, and when its time
    ran out, the last attempt's error with it."""
    cause = error.cause if isinstance(error, ActivityError) and error.cause else error
    if isinstance(cause, OutOfTime) and cause.cause is not None:
        return f"gave up after {cause.message or 'its time ran out'}: {cause.cause}"
    return str(cause)


@workflow.defn(name=WORKFLOW_NAME)
class EnrollmentWorkflow:
    @workflow.init
    def __init__(self, input: EnrollmentInput) -> None:
        # Patches are decided here, in the run's first activation, which never
        # carries a local activity's result. A patch first asked where such a result
        # comes back can be recorded a workflow task late: when a query came with the
        # task that ran the activity, and the activity ended while the query was being
        # answered, the SDK completes that task with the activity's marker before the
        # workflow has the result, and the workflow gets it in the next task. Replay
        # gives it the result in the first task, finds no patch marker there, takes
        # the old path and fails on nondeterminism
        # (tests/test_query_during_local_activity.py).
        self.decided = {patch: workflow.patched(patch) for patch in DECIDED_AT_START}
        self.input = input
        self.automation = input.automation
        # A new enrollment starts having seen the event that started it (G15).
        self.state = input.state or EnrollmentState(seen_event_ids=list(input.seen))
        self.seen = set(self.state.seen_event_ids)
        self.event_log_bytes = sum(event_bytes(e) for e in self.state.event_log)
        self.removal: str | None = None
        # How a pending removal ends the enrollment: `removed`, or `completed` for a
        # sequence the contact answered (a reply, a meeting booked).
        self.removal_status = "removed"
        self.shown: tuple[str | None, tuple[str, ...]] | None = None

    # ---- run loop -------------------------------------------------------

    @workflow.run
    async def run(self, input: EnrollmentInput) -> EnrollmentSnapshot:
        try:
            if input.state is None:
                # Events stored before this enrollment could be signalled (SPEC §4).
                caught_up = await self.local(
                    "register_enrollment",
                    RegisterInput(**input.model_dump(include=set(RegisterInput.model_fields))),
                    list[Event],
                )
                for event in caught_up:
                    self.on_event(event)
            while self.state.status == "running":
                if not self.state.entered and self._roll_over_due():
                    await self._continue_as_new()
                await self._next()
        except (asyncio.CancelledError, ActivityError, CancelledError) as error:
            if not self._cancelled_in_temporal(error):
                raise
            self._cancelled()
            await self._finish()
            raise  # Temporal shows the run as cancelled, as the operator asked.
        await self._finish()
        return self.view()

    def patched(self, patch_id: str) -> bool:
        """Whether this run takes the path behind `patch_id`: as decided at its
        start; for an older patch, on in every run that decided its patches at its
        start, and in runs recorded before that, asked here as it always was."""
        if patch_id in self.decided:
            return self.decided[patch_id]
        return self.decided[PATCHES_DECIDED_AT_START] or workflow.patched(patch_id)

    def _cancelled_in_temporal(self, error: BaseException) -> bool:
        """Whether `error` is an operator's "Request Cancellation" reaching the
        run: at a wait, or as a step's activity cancelled under it. Not an
        eviction from the worker's cache, which cancels the run's task too."""
        return (
            workflow.cancellation_reason() is not None
            and is_cancelled_exception(error)
            and self.patched(CANCELLED_IN_TEMPORAL)
        )

    async def _finish(self) -> None:
        await self._record_cut_short_sends()
        await self.local("finish_enrollment", FinishInput(view=self.view()), type(None))

    def _cancelled(self) -> None:
        state = self.state
        if state.position is not None:
            self.record(self.automation.steps[state.position].id, "cancelled")
        self.end("removed", "cancelled in Temporal")

    async def _next(self) -> None:
        state = self.state
        if self.removal:
            return self.end(self.removal_status, self.removal)
        if state.move_to:
            self._apply_move()
        if state.position is None:
            return self.end("completed", "reached the last step")
        step = self.automation.steps[state.position]
        if not state.entered:
            if self._over_budget(step):
                return self.end(
                    "failed",
                    f"loop budget exceeded: step '{step.id}' ran {LOOP_BUDGET} times in "
                    f"{int(LOOP_WINDOW.total_seconds() // 60)} minutes",
                )
            state.runs[step.id] = state.runs.get(step.id, 0) + 1
            state.entered = True
        workflow.set_current_details(self._summary(step))
        following = await self._run(step)
        state.entered = state.waiting = False
        state.deadline = state.held_for = state.paused_hold = None
        # A pending move or removal wins over the step's own successor.
        if state.status == "running" and not state.move_to and not self.removal:
            state.position = following

    async def _run(self, step: PlannedStep) -> int | None:
        try:
            return await HANDLERS[step.type](self, step)
        except (ActivityError, ApplicationError) as error:
            if self._cancelled_in_temporal(error):
                raise
            # Non-retryable failures only (retryable ones retry until they pass):
            # the step is recorded as failed and the contact goes on (SPEC §2).
            # A local activity's failure arrives unwrapped, as the ApplicationError.
            self.record(step.id, "failed", error=failure_text(error)[:ERROR_CHARS])
            return self.after(step)

    # ---- events, queries, updates -----------------------------------------

    @workflow.signal(name=EVENT_SIGNAL)
    def on_event(self, event: Event) -> None:
        state = self.state
        if event.id in self.seen:
            return  # G10
        self.seen.add(event.id)
        state.seen_event_ids.append(event.id)
        state.events_received += 1
        if state.status != "running" or not goals.counts(event, self.input.enrolled_at):
            return  # G2
        self._log(event)
        position = state.position if state.position is not None else len(self.automation.steps)
        decision = goals.on_event(
            self.automation,
            event,
            met=frozenset(state.goals_met),
            passed=frozenset(state.goals_passed),
            position=position,
            pending_move=state.move_to,
            sent={m.message_id: m.step_id for m in state.messages},
        )
        step = self.automation.steps[position] if position < len(self.automation.steps) else None
        here = step.id if step else None
        move_to = decision.move_to
        if move_to == here and state.waiting:
            move_to = None  # Waiting at this very goal: meeting it ends the wait.
        for goal_id in decision.rearmed:
            state.goals_met.remove(goal_id)
            self.record(goal_id, "goal_rearmed", event_id=event.id)
        for goal_id in decision.met:
            state.goals_met.append(goal_id)
            if goal_id != move_to:
                self.record(goal_id, "goal_met", event_id=event.id, from_step=here, moved=False)
        if move_to and move_to != state.move_to:
            state.move_to, state.move_event = move_to, event.id
        if isinstance(step, WaitForEvent) and state.waiting and meets(self, step, event):
            state.wait_matched = state.wait_matched or event.id
        if decision.met or decision.rearmed:
            self._show(step)
        if self.automation.kind == "sequence":
            self._end_sequence_on(event)

    def _end_sequence_on(self, event: Event) -> None:
        """A sequence ends by itself when the contact replies to one of its
        emails or books a meeting: like a removal, at once, from wherever it is.
        Only sequences ask: other enrollments' commands stay as they were."""
        reason = ended_by(event, {m.message_id for m in self.state.messages if m.channel == "email"})
        if reason is not None and self.removal is None:
            self.removal, self.removal_status = reason, "completed"

    @workflow.signal(name=RESUME_SIGNAL)
    def on_resume(self, resumed: Resumed) -> None:
        """The automation resumed: a send held by that pause (or an earlier one) is
        released (`worker.steps.sending`). Kept when nothing is held yet, as the
        resume may overtake the send activity's answer that the automation is paused."""
        if self.state.resumed is None or resumed.pause > self.state.resumed.pause:
            self.state.resumed = resumed

    @workflow.query(name=STATE_QUERY)
    def view(self) -> EnrollmentSnapshot:
        state = self.state
        position = state.position
        return EnrollmentSnapshot(
            enrollment_id=self.input.enrollment_id,
            automation_id=self.input.automation_id,
            version=self.input.version,
            contact_id=self.input.contact_id,
            status=state.status,
            end_reason=state.end_reason,
            current_step=None if position is None else self.automation.steps[position].id,
            goals_met=list(state.goals_met),
            messages=list(state.messages),
            history=list(state.history),
            events_received=state.events_received,
            entered_by=self.input.entered_by,
            history_start=state.history_start,
            messages_start=state.messages_start,
        )

    @workflow.update(name=REMOVE_UPDATE)
    async def remove(self, reason: str | None = None) -> EnrollmentSnapshot:
        """End the enrollment as `removed`, with `reason` (a step of another
        automation names itself); updates from before reasons carry none. Only
        the text of the end reason differs: the commands are the same."""
        if self.state.status == "running":
            # The first end asked for wins: a reply that ended a sequence stays its reason.
            if self.removal is None:
                self.removal, self.removal_status = reason or "removed through the API", "removed"
            await workflow.wait_condition(lambda: self.state.status != "running")
        return self.view()

    # ---- helpers ----------------------------------------------------------

    async def remote(
        self,
        name: str,
        arg: Any,
        result_type: type[T],
        step: PlannedStep,
        within: timedelta,
        retry_policy: RetryPolicy = REMOTE_RETRY,
        attempt: timedelta = ATTEMPT,
    ) -> T | None:
        """Run activity `name` as a regular activity, retried with backoff for
        `within` at most (and as `retry_policy` says: a webhook step's attempts).
        A goal pull or a removal waits for the attempt in flight, not for later
        retries: then the answer is None, unless that attempt went through."""
        handle = workflow.start_activity(
            name,
            arg,
            result_type=result_type,
            schedule_to_close_timeout=within,
            start_to_close_timeout=attempt,
            # The activity heartbeats: an attempt on a worker that died is tried again soon.
            heartbeat_timeout=HEARTBEAT,
            retry_policy=retry_policy,
            # The activity lets its attempt finish (unbroken): its result counts.
            cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
            summary=f"{step.type} {step.id}",
        )
        await workflow.wait_condition(lambda: handle.done() or self._interrupted())
        if handle.done():
            return await handle
        handle.cancel()
        try:
            return await handle
        except ActivityError:
            return None  # Abandoned: between retries, or its attempt in flight failed.

    async def local(self, name: str, arg: Any, result_type: type[T], step: PlannedStep | None = None) -> T:
        """Run activity `name`; a step's own reads "send_email welcome" in the Temporal UI."""
        return await workflow.execute_local_activity(
            name,
            arg,
            result_type=result_type,
            retry_policy=RETRY,
            summary=f"{step.type} {step.id}" if step else None,
            **LOCAL,
        )

    def key(self, step: PlannedStep) -> str:
        """The idempotency key of this run of `step`."""
        return f"{self.input.enrollment_id}/{step.id}/{self.state.runs[step.id]}"

    def after(self, step: PlannedStep) -> int | None:
        return self.automation.successor(self.automation.index(step.id))

    def branch(self, step: PlannedStep, target: str | None) -> int | None:
        if target is None:
            return self.after(step)
        return None if target == END else self.automation.index(target)

    def _interrupted(self) -> bool:
        return self.state.move_to is not None or self.removal is not None

    def interrupted(self) -> bool:
        """Whether a goal pull or a removal is pending: what a step's handler asks after a hold."""
        return self._interrupted()

    async def hold(self, step: PlannedStep, done: Callable[[], bool] = lambda: False) -> bool:
        """Hold the contact at the current step until the deadline (True), or
        until a goal pulls it away, it is removed or `done` holds (False)."""
        while True:
            deadline = self.state.deadline
            remaining = None if deadline is None else deadline - workflow.now()
            if remaining is not None and remaining <= timedelta(0):
                return True
            try:
                await workflow.wait_condition(
                    lambda: self._interrupted() or done() or self._roll_over_due(),
                    timeout=remaining,
                    # The timeline reads "pause (3d)".
                    timeout_summary=f"{step.id} ({short_duration(remaining)})" if remaining else None,
                )
            except TimeoutError:
                return True
            if self._interrupted() or done():
                return False
            await self._continue_as_new()

    async def _save_history(self) -> None:
        """Hand the step history to the database, so the next run starts without
        it. Signals handled while the activity runs add entries after these."""
        state = self.state
        saving = state.history[:]
        chunk = HistoryChunk(
            enrollment_id=self.input.enrollment_id, start=state.history_start, entries=saving
        )
        await self.local("save_history", chunk, type(None))
        del state.history[: len(saving)]
        state.history_start += len(saving)

    def _roll_over_due(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() > HISTORY_LIMIT
            or (len(self.state.history) >= HISTORY_ENTRIES_PER_RUN and self.patched(BOUNDED_STATE))
        )

    async def _continue_as_new(self) -> None:
        state = self.state
        if self.patched(BOUNDED_STATE):
            await self._save_history()
            if self._interrupted():
                return  # A goal move or a removal came while saving: it goes first.
            state = carried(state, workflow.now(), LOOP_WINDOW)
        else:
            state.seen_event_ids = state.seen_event_ids[-SEEN_IDS_KEPT:]
        workflow.continue_as_new(self.input.model_copy(update={"state": state}))

    async def _record_cut_short_sends(self) -> None:
        """A local activity runs before its workflow task completes: when a crash
        cuts that task short, the email has gone out but its result is not in the
        history, and the retried task may take another path (a goal met in the
        meantime skips the step). The outbox knows what went out. Read at the
        end only: at each goal move it cost 40% of the goal latency (bench.goal_latency)."""
        if not self.patched(RECORD_CUT_SHORT_SENDS):
            return
        # Messages earlier runs forgot (`messages_start`) were recorded: only later ones may be missing.
        asked = SentMessagesInput(enrollment_id=self.input.enrollment_id, skip=self.state.messages_start)
        sent = await self.local("sent_messages", asked, list[MessageRef])
        known = {m.message_id for m in self.state.messages}
        for message in sent:
            if message.message_id not in known:
                self.state.messages.append(message)
                self.record(message.step_id, "done", message_id=message.message_id, cut_short=True)

    def _apply_move(self) -> None:
        state = self.state
        here = None if state.position is None else self.automation.steps[state.position].id
        target = state.move_to
        assert target is not None
        self.record(target, "goal_met", event_id=state.move_event, from_step=here, moved=True)
        state.position = self.automation.index(target)
        state.move_to = state.move_event = None
        state.entered = state.waiting = False
        state.deadline = state.held_for = state.paused_hold = None

    def _over_budget(self, step: PlannedStep) -> bool:
        now = workflow.now()
        recent = [t for t in self.state.recent_runs.get(step.id, []) if now - t < LOOP_WINDOW]
        recent.append(now)
        self.state.recent_runs[step.id] = recent
        return len(recent) > LOOP_BUDGET

    def _log(self, event: Event) -> None:
        log = self.state.event_log
        if any(e.type == event.type and e.data == event.data for e in log):
            return
        log.append(event)
        self.event_log_bytes += event_bytes(event)
        if self.event_log_bytes > EVENT_LOG_BYTES and self.patched(BOUNDED_STATE):
            while self.event_log_bytes > EVENT_LOG_BYTES:
                self.event_log_bytes -= event_bytes(log.pop(0))
        for dropped in log[:-EVENT_LOG_KEPT]:  # Runs from before: by count.
            self.event_log_bytes -= event_bytes(dropped)
        del log[:-EVENT_LOG_KEPT]

    def record(self, step_id: str, outcome: str, **detail: Any) -> None:
        self.state.history.append(
            HistoryEntry(step_id=step_id, outcome=outcome, at=workflow.now(), detail=detail)
        )

    def end(self, status: str, reason: str) -> None:
        state = self.state
        state.status = status  # type: ignore[assignment]
        state.end_reason = reason
        state.position = None
        state.entered = state.waiting = False
        state.held_for = state.paused_hold = None
        self.record("end", "ended", reason=reason, status=status)
        self._show(None)

    def start_holding(self, step: PlannedStep, until: str | None, held_for: str | None = None) -> None:
        self.state.waiting = True
        self.state.held_for = held_for
        if held_for:
            self.record(step.id, "held", **({"until": until} if until else {}), reason=held_for)
        else:
            self.record(step.id, "waiting", until=until or "met")
        self._show(step)

    def _show(self, step: PlannedStep | None) -> None:
        """Publish where the contact stands: search attributes and the UI's one-line
        summary. Called where contacts stay (waits, goal changes, the end), so
        passing through action steps costs no extra history events."""
        state = self.state
        current = step.id if step else None
        goals_met = tuple(state.goals_met)
        if (current, goals_met) != self.shown:
            self.shown = (current, goals_met)
            workflow.upsert_search_attributes(
                [CURRENT_STEP.value_set(current or "-"), GOALS_MET.value_set(list(goals_met))]
            )
        workflow.set_current_details(self._summary(step))

    def _summary(self, step: PlannedStep | None) -> str:
        state = self.state
        met = ", ".join(state.goals_met) or "none"
        if state.status != "running":
            return f"{state.status}: {state.end_reason}; goals met: {met}"
        if step is None:
            return f"moving on; goals met: {met}"
        if state.waiting and state.held_for and state.deadline is None:
            return f"at {step.id}, held: {state.held_for}; goals met: {met}"
        if state.waiting:
            until = state.deadline.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if state.deadline else "met"
            holding = f"held for {state.held_for}" if state.held_for else "waiting"
            return f"at {step.id}, {holding} until {until}; goals met: {met}"
        return f"at {step.id} ({step.type}); goals met: {met}"
