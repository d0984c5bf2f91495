"""Pausing and resuming an automation (SPEC §5, README "Pause and resume"), on
the time-skipping server with the real worker, SQLite and PostgreSQL: new
entries refused, sends to contacts held (email, and SMS and WhatsApp through a
Twilio on loopback) while timers, goals and notifications go on, and on resume
held sends out, or skipped as stale. The worker killed in the middle is in
tests/test_devserver.py."""

from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from temporalio import activity
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from shared.contracts import RESUME_SIGNAL, STATE_QUERY, EnrollmentSnapshot, Resumed
from shared.services.pauses import release_held
from shared.store import pauses
from shared.store.db import HeldSend, Message
from tests.builders import DAY, email, goal, tag_added, wait
from tests.conftest import Stack, make_stack
from tests.test_workflow_fakes import Fakes, summary, waiting_at
from tests.test_workflow_fakes import enrollment as fake_enrollment
from tests.twilio import ACCOUNT_SID, AUTH_TOKEN, SMS_FROM, WHATSAPP_FROM, FakeTwilio, serving
from worker.outbox import Sending
from worker.steps.sending import SendInput, SendResult
from worker.twilio import TwilioAccount

pytestmark = pytest.mark.workflow

HELD = {"reason": "automation paused"}
TEMPLATE = "HXb5b62575e6e4ff6129ad7c8efe1f983e"


async def pause(stack: Stack, automation: str) -> dict[str, Any]:
    return await stack.post(f"/automations/{automation}/pause", expect=200)


async def resume(stack: Stack, automation: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    return await stack.post(f"/automations/{automation}/resume", body, expect=200)


def last_held(state: dict[str, Any]) -> bool:
    return bool(state["history"]) and state["history"][-1]["outcome"] == "held"


async def held_at(stack: Stack, enrollment: str, step: str) -> dict[str, Any]:
    """The enrollment once its send at `step` is held by the pause."""
    state = await stack.until(enrollment, lambda s: s["current_step"] == step and last_held(s))
    assert state["history"][-1]["detail"] == HELD
    return state


def steps_of(state: dict[str, Any]) -> list[tuple[str, str]]:
    return [(h["step_id"], h["outcome"]) for h in state["history"]]


def sent_to(engine: Engine, contact: str) -> list[tuple[str, str]]:
    """The messages the outbox holds for the contact: (step, channel)."""
    with Session(engine) as session:
        rows = session.exec(select(Message).where(Message.contact_id == contact).order_by(Message.created_at))
        return [(m.step_id, m.channel) for m in rows]


def still_held(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return list(session.exec(select(HeldSend.enrollment_id)))


async def ui_line(stack: Stack, enrollment: str) -> str:
    metadata = await stack.client.get_workflow_handle(enrollment).query(
        "__temporal_workflow_metadata", result_type=WorkflowMetadata
    )
    return metadata.current_details


async def test_a_paused_automation_refuses_new_entries_with_the_reason_until_resumed(stack: Stack) -> None:
    automation = await stack.automation([email("hello")])
    assert (await stack.get(f"/automations/{automation}"))["paused"] is False
    assert (await pause(stack, automation))["paused"] is True
    assert (await pause(stack, automation))["paused"] is True  # Again: nothing changes.
    assert (await stack.get(f"/automations/{automation}"))["paused"] is True
    assert [a["paused"] for a in await stack.get("/automations")] == [True]

    contact = await stack.contact()
    refused = await stack.http.post(f"/automations/{automation}/enrollments", json={"contact_id": contact})
    assert refused.status_code == 409
    assert refused.json() == {
        "detail": f"automation '{automation}' is paused and takes no new enrollments until it is resumed"
    }
    assert (await stack.get(f"/contacts/{contact}/enrollments")) == []

    assert (await resume(stack, automation))["paused"] is False
    assert (await resume(stack, automation))["paused"] is False  # Not paused: nothing changes.
    enrollment = await stack.enroll(automation, contact)
    state = await stack.until(enrollment, lambda s: s["status"] == "completed")
    assert steps_of(state)[0] == ("hello", "done")


async def test_pause_and_resume_answer_404_and_a_bad_stale_after_422_naming_the_field(stack: Stack) -> None:
    for action in ("pause", "resume"):
        missing = await stack.http.post(f"/automations/nowhere/{action}")
        assert missing.status_code == 404 and missing.json() == {"detail": "automation 'nowhere' not found"}
    automation = await stack.automation([email("hello")])
    await pause(stack, automation)
    for given, reason in [
        ("P1M", "months and years have no fixed length"),
        ("soon", "is not an ISO 8601 duration"),
        ("PT0S", "must be longer than zero"),
    ]:
        bad = await stack.http.post(f"/automations/{automation}/resume", json={"stale_after": given})
        assert bad.status_code == 422, bad.text
        [problem] = bad.json()["detail"]
        assert problem["loc"] == ["body", "stale_after"] and reason in problem["msg"], problem
    assert (await stack.get(f"/automations/{automation}"))["paused"] is True  # Refused: still paused.
    unknown = await stack.http.post(f"/automations/{automation}/resume", json={"stale": "P1D"})
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"] == ["body", "stale"]


async def test_sends_hold_while_timers_run_and_goals_pull_and_go_out_on_resume(stack: Stack) -> None:
    steps = [
        wait("tick", "P1D"),
        email("welcome"),
        goal("bought", tag_added("bought"), if_unmet="wait"),
        email("thanks", subject="Thanks"),
    ]
    automation = await stack.automation(steps)
    ada, bob = await stack.contact(first_name="Ada"), await stack.contact(first_name="Bob")
    ada_in, bob_in = await stack.enroll(automation, ada), await stack.enroll(automation, bob)
    for enrollment in (ada_in, bob_in):
        await stack.at(enrollment, "tick")
    await pause(stack, automation)

    # The timer runs while paused; the send after it holds.
    await stack.skip(2 * DAY)
    for contact, enrollment in [(ada, ada_in), (bob, bob_in)]:
        state = await held_at(stack, enrollment, "welcome")
        assert steps_of(state) == [("tick", "waiting"), ("tick", "done"), ("welcome", "held")]
        assert state["messages"] == [] and sent_to(stack.engine, contact) == []
        assert await ui_line(stack, enrollment) == "at welcome, held: automation paused; goals met: none"

    # A goal still meets and moves the contact: Bob skips the held welcome, and
    # the send after the goal holds too.
    await stack.post(f"/contacts/{bob}/tags", {"tag": "bought"})
    state = await stack.until(bob_in, lambda s: s["current_step"] == "thanks" and last_held(s))
    assert steps_of(state)[2:] == [
        ("welcome", "held"),
        ("bought", "goal_met"),
        ("bought", "done"),
        ("thanks", "held"),
    ]
    assert state["history"][3]["detail"]["from_step"] == "welcome" and state["goals_met"] == ["bought"]
    assert await ui_line(stack, bob_in) == "at thanks, held: automation paused; goals met: bought"
    assert sent_to(stack.engine, bob) == []
    assert sorted(still_held(stack.engine)) == sorted([ada_in, bob_in])

    assert (await resume(stack, automation))["paused"] is False
    ada_state = await stack.at(ada_in, "bought")
    assert steps_of(ada_state)[2:] == [("welcome", "held"), ("welcome", "done"), ("bought", "waiting")]
    assert [m["step_id"] for m in ada_state["messages"]] == ["welcome"]
    bob_state = await stack.until(bob_in, lambda s: s["status"] == "completed")
    assert steps_of(bob_state)[-3:] == [("thanks", "held"), ("thanks", "done"), ("end", "ended")]
    assert [m["step_id"] for m in bob_state["messages"]] == ["thanks"]
    assert sent_to(stack.engine, ada) == [("welcome", "email")]
    assert sent_to(stack.engine, bob) == [("thanks", "email")]
    assert still_held(stack.engine) == []  # Each reached: nothing left for the sweep.


async def test_a_send_held_longer_than_stale_after_is_skipped_as_stale(stack: Stack) -> None:
    steps = [
        goal("go", tag_added("go"), if_unmet="wait"),
        email("offer"),
        {"id": "after", "type": "add_tag", "tag": "done"},
    ]
    automation = await stack.automation(steps)
    early, late = await stack.contact(), await stack.contact()
    early_in, late_in = await stack.enroll(automation, early), await stack.enroll(automation, late)
    for enrollment in (early_in, late_in):
        await stack.at(enrollment, "go")
    await pause(stack, automation)
    await stack.post(f"/contacts/{early}/tags", {"tag": "go"})
    await held_at(stack, early_in, "offer")
    await stack.skip(2 * DAY)
    await stack.post(f"/contacts/{late}/tags", {"tag": "go"})
    await held_at(stack, late_in, "offer")

    await resume(stack, automation, {"stale_after": "P1D"})
    stale = await stack.until(early_in, lambda s: s["status"] == "completed")
    assert steps_of(stale)[-4:] == [
        ("offer", "held"),
        ("offer", "skipped"),
        ("after", "done"),
        ("end", "ended"),
    ]
    assert stale["history"][-3]["detail"] == {"reason": "stale"} and stale["messages"] == []
    assert sent_to(stack.engine, early) == []
    fresh = await stack.until(late_in, lambda s: s["status"] == "completed")
    assert [m["step_id"] for m in fresh["messages"]] == ["offer"]
    assert sent_to(stack.engine, late) == [("offer", "email")]


@pytest_asyncio.fixture
async def texts(time_env: WorkflowEnvironment, engine: Engine) -> AsyncIterator[tuple[Stack, FakeTwilio]]:
    async with serving() as twilio:
        sending = Sending(
            twilio=TwilioAccount(ACCOUNT_SID, AUTH_TOKEN, twilio.url),
            sms_from=SMS_FROM,
            whatsapp_from=WHATSAPP_FROM,
        )
        async with make_stack(time_env.client, engine, time_env, sending=sending) as stack:
            yield stack, twilio


async def test_sms_and_whatsapp_are_held_and_an_internal_notification_is_not(
    texts: tuple[Stack, FakeTwilio],
) -> None:
    stack, twilio = texts
    steps = [
        goal("go", tag_added("go"), if_unmet="wait"),
        {
            "id": "team",
            "type": "notify",
            "to": ["sales@acme.test"],
            "subject": "{{ contact.first_name }}",
            "body": "b",
        },
        {
            "id": "chat",
            "type": "send_whatsapp",
            "template": TEMPLATE,
            "variables": {"1": "{{ contact.first_name }}"},
        },
        goal("again", tag_added("again"), if_unmet="wait"),
        {"id": "text", "type": "send_sms", "body": "Hi {{ contact.first_name }}"},
    ]
    automation = await stack.automation(steps)
    contact = await stack.contact(phone="+14155550123")
    enrollment = await stack.enroll(automation, contact)
    await stack.at(enrollment, "go")

    await pause(stack, automation)
    await stack.post(f"/contacts/{contact}/tags", {"tag": "go"})
    state = await held_at(stack, enrollment, "chat")
    assert steps_of(state)[-2:] == [("team", "done"), ("chat", "held")]
    assert sent_to(stack.engine, contact) == [("team", "internal")] and twilio.messages == []
    await resume(stack, automation)
    await stack.at(enrollment, "again")
    assert [m["ContentSid"] for m in twilio.messages] == [TEMPLATE]

    # A second pause holds the SMS; the first pause's resume does not release it.
    await pause(stack, automation)
    await stack.post(f"/contacts/{contact}/tags", {"tag": "again"})
    await held_at(stack, enrollment, "text")
    assert len(twilio.messages) == 1
    await resume(stack, automation)
    state = await stack.until(enrollment, lambda s: s["status"] == "completed")
    assert [(m["step_id"], m["channel"]) for m in state["messages"]] == [
        ("chat", "whatsapp"),
        ("text", "sms"),
    ]
    assert [m["Body"] for m in twilio.messages[1:]] == ["Hi Ada"]


async def test_a_resume_whose_signals_a_crash_cut_short_is_finished_by_the_sweep(stack: Stack) -> None:
    steps = [goal("go", tag_added("go"), if_unmet="wait"), email("offer")]
    automation = await stack.automation(steps)
    contact = await stack.contact()
    enrollment = await stack.enroll(automation, contact)
    await stack.at(enrollment, "go")
    await pause(stack, automation)
    await stack.post(f"/contacts/{contact}/tags", {"tag": "go"})
    await held_at(stack, enrollment, "offer")

    # What a crash of the API right after the resume's commit leaves: the
    # automation resumed in the database, no signal sent.
    with Session(stack.engine) as session:
        pauses.resume(session, automation, timedelta(days=1))
    assert still_held(stack.engine) == [enrollment]
    assert (await stack.get(f"/automations/{automation}"))["paused"] is False
    await release_held(stack.client, stack.engine)  # What the worker's sweep runs.
    state = await stack.until(enrollment, lambda s: s["status"] == "completed")
    assert [m["step_id"] for m in state["messages"]] == ["offer"]
    assert still_held(stack.engine) == []
    assert await release_held(stack.client, stack.engine) == 0


# ---- the workflow's side, with fake activities ----------------------------


class PausingFakes(Fakes):
    """A send that answers `paused` with the pause numbers given, in turn; before
    each answer, `meanwhile` may signal the enrollment (the resume overtaking it)."""

    def __init__(self, client: Client, answers: list[int], meanwhile: Callable[[int], Resumed | None]):
        super().__init__()
        self.client, self.answers, self.meanwhile = client, answers, meanwhile

    @activity.defn(name="send_email")
    async def send_email(self, step: SendInput) -> SendResult:
        self.sends.append(step.key)
        if not self.answers:
            return SendResult(message_id=f"msg-{len(self.sends)}")
        pause = self.answers.pop(0)
        overtaking = self.meanwhile(pause)
        if overtaking is not None:
            await self.client.get_workflow_handle(activity.info().workflow_id).signal(
                RESUME_SIGNAL, overtaking
            )
        return SendResult(paused=pause)


async def test_a_resume_that_overtakes_the_activitys_answer_releases_the_hold(
    time_env: WorkflowEnvironment,
) -> None:
    fakes = PausingFakes(time_env.client, [3], lambda pause: Resumed(pause=pause))
    async with fake_enrollment(time_env, fakes, [email("hi")]) as handle:
        final = await handle.result()
    assert [(h.step_id, h.outcome) for h in final.history] == [
        ("hi", "held"),
        ("hi", "done"),
        ("end", "ended"),
    ]
    key = f"{handle.id}/hi/1"
    assert fakes.sends == [key, key]  # One run of the step, asked again under its key.


async def test_only_a_resume_of_the_holding_pause_or_a_later_one_releases_and_repeats_change_nothing(
    time_env: WorkflowEnvironment,
) -> None:
    fakes = PausingFakes(time_env.client, [2], lambda _: None)
    async with fake_enrollment(time_env, fakes, [email("hi"), wait("after", "P1D")]) as handle:
        state = await waiting_at(handle, "hi", "held")
        assert state.history[-1].detail == HELD
        assert await summary(handle) == "at hi, held: automation paused; goals met: none"
        await handle.signal(
            RESUME_SIGNAL, Resumed(pause=1, stale_after=timedelta(seconds=1))
        )  # An older pause's.
        await time_env.sleep(timedelta(hours=1))
        state = await handle.query(STATE_QUERY, result_type=EnrollmentSnapshot)
        assert [(h.step_id, h.outcome) for h in state.history] == [("hi", "held")] and len(fakes.sends) == 1
        for _ in range(2):  # The API's signal and the sweep's: one resume.
            await handle.signal(RESUME_SIGNAL, Resumed(pause=2))
        state = await waiting_at(handle, "after")
    outcomes = [(h.step_id, h.outcome) for h in state.history]
    assert outcomes == [("hi", "held"), ("hi", "done"), ("after", "waiting")]
    assert [m.message_id for m in state.messages] == ["msg-2"]
