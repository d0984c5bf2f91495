"""The interpreter's own logic, on the real time-skipping server with fake
activities: no database, no API. What each test checks is the workflow's doing
(step run keys, failures, goal pulls, missed events), so the fakes only record
what they were asked and answer what the test says."""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from temporalio import activity
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
from tests.builders import email, goal, tag_added, wait
from worker.enrollment import EnrollmentWorkflow
from worker.steps.if_else import ContactSnapshot
from worker.steps.send_email import SendEmailInput, SendResult
from worker.steps.tags import TagInput, TagResult

pytestmark = pytest.mark.workflow


class Fakes:
    """Stand-ins for every activity the enrollment calls, keeping what they were asked."""

    def __init__(self, tags: list[list[str]] | None = None, missed: list[Event] | None = None):
        self.sends: list[str] = []
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
            self.change_tag,
            self.sent_messages,
            self.save_history,
            self.finish_enrollment,
        ]

    @activity.defn(name="register_enrollment")
    async def register_enrollment(self, entry: RegisterInput) -> list[Event]:
        return self.missed

    @activity.defn(name="send_email")
    async def send_email(self, step: SendEmailInput) -> SendResult:
        self.sends.append(step.key)
        if self.refuse_sends:
            raise ApplicationError(self.refuse_sends, non_retryable=True)
        return SendResult(message_id=f"msg-{len(self.sends)}")

    @activity.defn(name="load_contact")
    async def load_contact(self, contact_id: str) -> ContactSnapshot:
        return ContactSnapshot(tags=self.tags.pop(0), attributes={})

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
    env: WorkflowEnvironment, fakes: Fakes, steps: list[dict[str, Any]]
) -> AsyncIterator[WorkflowHandle[Any, EnrollmentSnapshot]]:
    """One enrollment of `steps`, on a worker with the fakes, ended with the test."""
    task_queue = f"fakes-{uuid.uuid4().hex[:8]}"
    plan = plan_of(parse_definition({"name": "fakes", "steps": steps}))
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


async def waiting_at(handle: WorkflowHandle[Any, Any], step_id: str) -> None:
    for _ in range(200):
        state = await handle.query(STATE_QUERY, result_type=EnrollmentSnapshot)
        if state.current_step == step_id and state.history and state.history[-1].outcome == "waiting":
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never waited at {step_id}: {state}")


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
