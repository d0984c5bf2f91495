"""The interpreter's own logic, on the real time-skipping server with fake
activities: no database, no API. What each test checks is the workflow's doing
(step run keys, failures, goal pulls, missed events), so the fakes only record
what they were asked and answer what the test says."""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from temporalio import activity
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from shared.contracts import (
    EVENT_SIGNAL,
    STATE_QUERY,
    EnrollmentInput,
    EnrollmentSnapshot,
    FinishInput,
    HistoryChunk,
    MessageRef,
    RegisterInput,
    SentMessagesInput,
)
from shared.domain.definition import parse_definition, plan_of
from shared.domain.events import Event
from shared.domain.windows import SendWindow
from tests.builders import email, goal, tag_added, wait
from worker.enrollment import EnrollmentWorkflow
from worker.steps.if_else import ContactSnapshot
from worker.steps.sending import SendInput, SendResult
from worker.steps.tags import TagInput, TagResult
from worker.steps.wait import WindowInput

pytestmark = pytest.mark.workflow


class Fakes:
    """Stand-ins for every activity the enrollment calls, keeping what they were asked."""

    def __init__(
        self,
        tags: list[list[str]] | None = None,
        missed: list[Event] | None = None,
        holds: list[datetime] | None = None,
        opens: list[datetime | None] | None = None,
    ):
        self.sends: list[str] = []
        self.asked: list[SendInput] = []
        # What the first sends answer, in turn: the send window is closed until then.
        self.holds = holds or []
        # What each `window_opens` answers, in turn, and what it was asked.
        self.opens = opens or []
        self.window_asks: list[WindowInput] = []
        self.tag_changes: list[str] = []
        self.finished: list[EnrollmentSnapshot] = []
        # What each `load_contact` answers, in turn.
        self.tags = tags or []
        self.missed = missed or []
        self.refuse_sends: str | None = None

    def all(self) -> list[Callable[..., Any]]:
        return [
            self.register_enrollment,
            self.send_email,
            self.load_contact,
            self.window_opens,
            self.change_tag,
            self.sent_messages,
            self.save_history,
            self.finish_enrollment,
        ]

    @activity.defn(name="register_enrollment")
    async def register_enrollment(self, entry: RegisterInput) -> list[Event]:
        return self.missed

    @activity.defn(name="send_email")
    async def send_email(self, step: SendInput) -> SendResult:
        self.sends.append(step.key)
        self.asked.append(step)
        if self.refuse_sends:
            raise ApplicationError(self.refuse_sends, non_retryable=True)
        if self.holds:
            return SendResult(held_until=self.holds.pop(0))
        return SendResult(message_id=f"msg-{len(self.sends)}")

    @activity.defn(name="load_contact")
    async def load_contact(self, contact_id: str) -> ContactSnapshot:
        return ContactSnapshot(tags=self.tags.pop(0), attributes={})

    @activity.defn(name="window_opens")
    async def window_opens(self, asked: WindowInput) -> datetime | None:
        self.window_asks.append(asked)
        return self.opens.pop(0)

    @activity.defn(name="change_tag")
    async def change_tag(self, step: TagInput) -> TagResult:
        self.tag_changes.append(step.key)
        return TagResult(changed=True, events=[])

    @activity.defn(name="sent_messages")
    async def sent_messages(self, asked: SentMessagesInput) -> list[MessageRef]:
        return []

    @activity.defn(name="save_history")
    async def save_history(self, chunk: HistoryChunk) -> None:
        pass

    @activity.defn(name="finish_enrollment")
    async def finish_enrollment(self, done: FinishInput) -> None:
        self.finished.append(done.view)


@contextlib.asynccontextmanager
async def enrollment(
    env: WorkflowEnvironment, fakes: Fakes, steps: list[dict[str, Any]], **definition: Any
) -> AsyncIterator[WorkflowHandle[Any, EnrollmentSnapshot]]:
    """One enrollment of `steps` (and the rest of the `definition`, a `send_window`),
    on a worker with the fakes, ended with the test."""
    task_queue = f"fakes-{uuid.uuid4().hex[:8]}"
    plan = plan_of(parse_definition({"name": "fakes", "steps": steps, **definition}))
    entry = EnrollmentInput(
        enrollment_id=f"au.ct.{uuid.uuid4().hex[:8]}",
        automation_id="au",
        version=1,
        contact_id="ct",
        seq=1,
        enrolled_at=datetime(2026, 1, 1, tzinfo=UTC),
        automation=plan,
    )
    async with Worker(
        env.client, task_queue=task_queue, workflows=[EnrollmentWorkflow], activities=fakes.all()
    ):
        handle = await env.client.start_workflow(
            EnrollmentWorkflow.run, entry, id=entry.enrollment_id, task_queue=task_queue
        )
        try:
            yield handle
        finally:
            # A run left waiting would hold the time-skipping server's clock.
            with contextlib.suppress(Exception):
                await handle.terminate("test over")


async def waiting_at(
    handle: WorkflowHandle[Any, Any], step_id: str, outcome: str = "waiting"
) -> EnrollmentSnapshot:
    """The enrollment's state once its contact waits (or is `held`) at `step_id`."""
    for _ in range(200):
        state = await handle.query(STATE_QUERY, result_type=EnrollmentSnapshot)
        if state.current_step == step_id and state.history and state.history[-1].outcome == outcome:
            return state
        await asyncio.sleep(0.05)
    raise AssertionError(f"never {outcome} at {step_id}: {state}")


async def summary(handle: WorkflowHandle[Any, Any]) -> str:
    """The one line the Temporal UI shows for the run."""
    metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    return metadata.current_details


def event(type: str, **data: Any) -> Event:
    return Event(id=f"ev-{uuid.uuid4().hex[:8]}", contact_id="ct", type=type, data=data)  # type: ignore[arg-type]


async def test_each_run_of_a_step_has_its_own_idempotency_key(time_env: WorkflowEnvironment) -> None:
    """A step run twice (a loop) sends twice, under two keys; a retry of one run reuses its key."""
    steps = [
        email("hi"),
        wait("pause", "P1D"),
        {"id": "check", "type": "if_else", "condition": {"tag": "done"}, "then": "end", "else": "hi"},
    ]
    fakes = Fakes(tags=[[], ["done"]])
    async with enrollment(time_env, fakes, steps) as handle:
        final = await handle.result()
    key = f"{handle.id}/hi"
    assert fakes.sends == [f"{key}/1", f"{key}/2"]
    assert final.status == "completed" and [m.message_id for m in final.messages] == ["msg-1", "msg-2"]
    assert fakes.finished == [final]


async def test_a_send_refused_for_good_is_recorded_as_failed_and_the_contact_goes_on(
    time_env: WorkflowEnvironment,
) -> None:
    fakes = Fakes()
    fakes.refuse_sends = "template error: 'contact' is undefined"
    steps = [email("hi"), {"id": "tagged", "type": "add_tag", "tag": "reached"}]
    async with enrollment(time_env, fakes, steps) as handle:
        final = await handle.result()
    outcomes = [(h.step_id, h.outcome) for h in final.history]
    assert outcomes == [("hi", "failed"), ("tagged", "done"), ("end", "ended")]
    assert final.history[0].detail["error"] == "template error: 'contact' is undefined"
    assert len(fakes.sends) == 1  # Not retried: it would fail the same way.
    assert fakes.tag_changes == [f"{handle.id}/tagged/1"]


async def test_a_goal_met_while_waiting_pulls_the_contact_past_the_steps_between(
    time_env: WorkflowEnvironment,
) -> None:
    steps = [email("hi"), wait("pause", "P7D"), email("late"), goal("bought", tag_added("bought"))]
    fakes = Fakes()
    async with enrollment(time_env, fakes, steps) as handle:
        await waiting_at(handle, "pause")
        await handle.signal(EVENT_SIGNAL, event("tag.added", tag="bought"))
        final = await handle.result()
    assert fakes.sends == [f"{handle.id}/hi/1"]  # `late` was skipped.
    assert final.goals_met == ["bought"] and final.status == "completed"
    moved = [h for h in final.history if h.outcome == "goal_met"]
    assert [(h.step_id, h.detail["from_step"], h.detail["moved"]) for h in moved] == [
        ("bought", "pause", True)
    ]


async def test_an_event_stored_before_the_enrollment_started_counts(time_env: WorkflowEnvironment) -> None:
    """Events signalled before the run existed come back from its first activity (SPEC §4)."""
    early = event("tag.added", tag="bought")
    early = early.model_copy(update={"occurred_at": datetime(2026, 1, 2, tzinfo=UTC)})
    fakes = Fakes(missed=[early])
    steps = [wait("pause", "P7D"), email("late"), goal("bought", tag_added("bought"))]
    async with enrollment(time_env, fakes, steps) as handle:
        final = await handle.result()
    assert fakes.sends == [] and final.goals_met == ["bought"]
    assert final.events_received == 1


async def test_the_same_event_delivered_twice_counts_once(time_env: WorkflowEnvironment) -> None:
    steps = [wait("pause", "P7D"), goal("bought", tag_added("bought"), if_unmet="end")]
    fakes = Fakes()
    async with enrollment(time_env, fakes, steps) as handle:
        await waiting_at(handle, "pause")
        other = event("tag.added", tag="other")
        await handle.signal(EVENT_SIGNAL, other)
        await handle.signal(EVENT_SIGNAL, other)
        final = await handle.result()
    assert final.events_received == 1
    assert (final.status, final.end_reason) == ("completed", "goal 'bought' not met")


# Sending rules 1 (README): outside the automation's send window a send is held,
# not skipped. Here the send window is whatever the fake send answers.
OFFICE_HOURS = {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00"}


async def from_now(env: WorkflowEnvironment, duration: timedelta) -> datetime:
    """The time-skipping server's time `duration` from now, on the minute."""
    return (await env.get_current_time() + duration).astimezone(UTC).replace(second=0, microsecond=0)


async def skip_to(env: WorkflowEnvironment, moment: datetime) -> None:
    """Let the time-skipping server's clock run on to `moment`."""
    await env.sleep(moment - await env.get_current_time())


async def test_a_send_outside_the_window_is_held_then_goes_out_when_it_opens(
    time_env: WorkflowEnvironment,
) -> None:
    opens = await from_now(time_env, timedelta(hours=5))
    fakes = Fakes(holds=[opens])
    steps = [email("hi"), {"id": "tagged", "type": "add_tag", "tag": "reached"}]
    async with enrollment(time_env, fakes, steps, send_window=OFFICE_HOURS) as handle:
        state = await waiting_at(handle, "hi", "held")
        assert state.history[-1].detail == {"until": opens.isoformat(), "reason": "the send window"}
        until = f"{opens:%Y-%m-%d %H:%M} UTC"
        assert await summary(handle) == f"at hi, held for the send window until {until}; goals met: none"
        assert state.messages == [] and fakes.tag_changes == []

        await skip_to(time_env, opens - timedelta(minutes=5))
        state = await handle.query(STATE_QUERY, result_type=EnrollmentSnapshot)
        assert [(h.step_id, h.outcome) for h in state.history] == [("hi", "held")]
        assert len(fakes.sends) == 1  # Not asked again before the window opens.

        await skip_to(time_env, opens + timedelta(minutes=5))
        final = await handle.result()
    key = f"{handle.id}/hi/1"
    assert fakes.sends == [key, key]  # The same send asked again: one run of the step, one key.
    first, again = fakes.asked
    assert first.window == again.window == SendWindow.model_validate(OFFICE_HOURS)
    assert again.asked_at is not None and again.asked_at >= opens  # As of the hold's end.
    outcomes = [(h.step_id, h.outcome) for h in final.history]
    assert outcomes == [("hi", "held"), ("hi", "done"), ("tagged", "done"), ("end", "ended")]
    sent = final.history[1]
    assert sent.at >= opens and sent.detail == {"message_id": "msg-2"}
    assert [m.message_id for m in final.messages] == ["msg-2"]
    assert (final.status, final.end_reason) == ("completed", "reached the last step")


async def test_a_goal_met_while_a_send_is_held_pulls_the_contact_and_nothing_is_sent(
    time_env: WorkflowEnvironment,
) -> None:
    opens = await from_now(time_env, timedelta(days=2))
    fakes = Fakes(holds=[opens])
    steps = [
        email("hi"),
        email("later"),
        goal("bought", tag_added("bought")),
        {"id": "thanks", "type": "add_tag", "tag": "customer"},
    ]
    async with enrollment(time_env, fakes, steps, send_window=OFFICE_HOURS) as handle:
        await waiting_at(handle, "hi", "held")
        await handle.signal(EVENT_SIGNAL, event("tag.added", tag="bought"))
        final = await handle.result()
    assert fakes.sends == [f"{handle.id}/hi/1"]  # Never asked again; `later` was skipped.
    assert final.messages == [] and final.goals_met == ["bought"] and final.status == "completed"
    outcomes = [(h.step_id, h.outcome) for h in final.history]
    assert outcomes == [
        ("hi", "held"),
        ("bought", "goal_met"),
        ("bought", "done"),
        ("thanks", "done"),
        ("end", "ended"),
    ]
    moved = final.history[1]
    assert (moved.detail["from_step"], moved.detail["moved"]) == ("hi", True)
    assert moved.at < opens  # At once, not when the window opens.
    assert fakes.tag_changes == [f"{handle.id}/thanks/1"]


async def test_a_wait_for_a_window_waits_until_it_opens_and_passes_an_open_one(
    time_env: WorkflowEnvironment,
) -> None:
    opens = await from_now(time_env, timedelta(hours=20))
    fakes = Fakes(opens=[opens, None])
    steps = [
        {"id": "office", "type": "wait", "window": OFFICE_HOURS},
        {"id": "tagged", "type": "add_tag", "tag": "reached"},
    ]
    async with enrollment(time_env, fakes, steps) as handle:
        state = await waiting_at(handle, "office")
        assert state.history[-1].detail == {"until": opens.isoformat()}
        until = f"{opens:%Y-%m-%d %H:%M} UTC"
        assert await summary(handle) == f"at office, waiting until {until}; goals met: none"

        await skip_to(time_env, opens - timedelta(minutes=5))
        state = await handle.query(STATE_QUERY, result_type=EnrollmentSnapshot)
        assert state.current_step == "office" and fakes.tag_changes == []

        await skip_to(time_env, opens + timedelta(minutes=5))
        final = await handle.result()
    outcomes = [(h.step_id, h.outcome) for h in final.history]
    assert outcomes == [("office", "waiting"), ("office", "done"), ("tagged", "done"), ("end", "ended")]
    assert final.history[1].at >= opens
    asked = fakes.window_asks[0]
    assert (asked.contact_id, asked.window) == ("ct", SendWindow.model_validate(OFFICE_HOURS))

    async with enrollment(time_env, fakes, steps) as handle:  # The window is open: no wait.
        final = await handle.result()
    outcomes = [(h.step_id, h.outcome) for h in final.history]
    assert outcomes == [("office", "done"), ("tagged", "done"), ("end", "ended")]
    assert final.history[0].detail == {"window": "open"}


async def test_timers_and_branches_are_not_held_by_the_send_window(time_env: WorkflowEnvironment) -> None:
    """With the send window closed for days, a wait ends on time and a branch is
    taken at once: only the send is held."""
    opens = await from_now(time_env, timedelta(days=3))
    fakes = Fakes(tags=[["vip"]], holds=[opens])
    steps = [
        wait("pause", "PT2H"),
        {"id": "check", "type": "if_else", "condition": {"tag": "vip"}, "then": "tagged", "else": "end"},
        {"id": "tagged", "type": "add_tag", "tag": "reached"},
        email("hi"),
    ]
    async with enrollment(time_env, fakes, steps, send_window=OFFICE_HOURS) as handle:
        state = await waiting_at(handle, "pause")
        entered = state.history[-1].at
        assert state.history[-1].detail == {"until": (entered + timedelta(hours=2)).isoformat()}
        await skip_to(time_env, entered + timedelta(hours=2, minutes=1))
        state = await waiting_at(handle, "hi", "held")
    outcomes = [(h.step_id, h.outcome) for h in state.history]
    assert outcomes == [
        ("pause", "waiting"),
        ("pause", "done"),
        ("check", "branched"),
        ("tagged", "done"),
        ("hi", "held"),
    ]
    on_time = entered + timedelta(hours=2)
    assert all(on_time <= h.at < on_time + timedelta(minutes=2) for h in state.history[1:])
    assert state.history[2].detail == {"branch": "then"}
    assert fakes.tag_changes == [f"{handle.id}/tagged/1"]
    assert state.history[-1].detail["until"] == opens.isoformat()
