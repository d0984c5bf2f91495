"""The step catalog in scope (SPEC §2), on the time-skipping server."""

import os
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.testing import ActivityEnvironment

from shared.contracts import RegisterInput
from shared.domain.windows import DAYS
from shared.services.events import EventBus
from shared.settings import settings
from shared.store import enrollments
from shared.store.db import EnrollmentRow, EventRow, Message, utcnow
from tests.builders import DAY, email, goal, tag_added, wait
from tests.conftest import Stack
from worker.activities.base import Deps
from worker.activities.enrollment import EnrollmentActivities
from worker.activities.tags import TagActivities
from worker.outbox import Outbox
from worker.steps.tags import TagInput

pytestmark = pytest.mark.workflow


def outcomes(state: dict, step_id: str) -> list[str]:
    return [h["outcome"] for h in state["history"] if h["step_id"] == step_id]


async def test_wait_for_event_branches_on_event_or_timeout(stack: Stack) -> None:
    steps = [
        {
            "id": "click",
            "type": "wait_for_event",
            "timeout": "P2D",
            "on_event": "thanks",
            "on_timeout": "nudge",
            "criteria": [{"type": "custom", "name": "visited", "value": "pricing"}],
        },
        email("thanks", subject="thanks"),
        {"id": "stop", "type": "end"},
        email("nudge", subject="nudge"),
    ]
    automation = await stack.automation(steps)
    hit = await stack.contact()
    enrollment = await stack.enroll(automation, hit)
    await stack.at(enrollment, "click")
    await stack.event(hit, "custom", name="visited", value="home")  # Wrong value: no match.
    await stack.event(hit, "custom", name="visited", value="pricing")
    state = await stack.until(enrollment, lambda s: s["status"] == "completed")
    assert [m["step_id"] for m in state["messages"]] == ["thanks"]

    miss = await stack.contact()
    enrollment = await stack.enroll(automation, miss)
    await stack.at(enrollment, "click")
    await stack.skip(DAY * 3)
    state = await stack.until(enrollment, lambda s: s["status"] == "completed")
    assert [m["step_id"] for m in state["messages"]] == ["nudge"]


async def test_wait_for_event_since_enrollment_passes_straight_through(stack: Stack) -> None:
    seen = {"type": "custom", "name": "seen"}
    steps = [
        wait("pause", "P1D"),
        {"id": "since_arrival", "type": "wait_for_event", "timeout": "P5D", "criteria": [seen]},
        {
            "id": "since_start",
            "type": "wait_for_event",
            "timeout": "P5D",
            "criteria": [seen],
            "since": "enrollment",
        },
    ]
    contact = await stack.contact()
    enrollment = await stack.enroll(await stack.automation(steps), contact)
    await stack.at(enrollment, "pause")
    await stack.event(contact, "custom", name="seen")
    await stack.received(enrollment, 1)
    await stack.skip(DAY * 2)
    # The event came before arrival: `since_arrival` waits it out; `since_start` passes at once.
    await stack.at(enrollment, "since_arrival")
    await stack.skip(DAY * 6)
    state = await stack.until(enrollment, lambda s: s["status"] == "completed")
    assert outcomes(state, "since_arrival") == ["waiting", "timed_out"]
    assert outcomes(state, "since_start") == ["waiting", "event_matched"]


async def test_if_else_on_tags_and_attributes(stack: Stack) -> None:
    condition = {
        "all": [
            {"tag": "vip"},
            {"not": {"attribute": "score", "op": "lt", "value": 10}},
            {"any": [{"attribute": "plan", "op": "eq", "value": "pro"}, {"tag": "beta"}]},
        ]
    }
    steps = [
        {"id": "check", "type": "if_else", "condition": condition, "then": "yes", "else": "no"},
        email("yes", subject="yes"),
        {"id": "stop", "type": "end"},
        email("no", subject="no"),
    ]
    automation = await stack.automation(steps)
    cases = [
        ({"tags": ["vip", "beta"], "attributes": {"score": 12}}, "yes"),
        ({"tags": ["vip"], "attributes": {"score": 12, "plan": "pro"}}, "yes"),
        ({"tags": ["vip"], "attributes": {"score": 3, "plan": "pro"}}, "no"),
        ({"tags": [], "attributes": {"score": 50, "plan": "pro"}}, "no"),
    ]
    for fields, branch in cases:
        enrollment = await stack.enroll(automation, await stack.contact(**fields))
        state = await stack.until(enrollment, lambda s: s["status"] == "completed")
        assert [m["step_id"] for m in state["messages"]] == [branch], fields


async def test_update_attribute_set_unset_increment_decrement(stack: Stack) -> None:
    steps = [
        {"id": "score", "type": "update_attribute", "attribute": "score", "op": "increment", "value": 5},
        {"id": "minus", "type": "update_attribute", "attribute": "score", "op": "decrement"},
        {"id": "plan", "type": "update_attribute", "attribute": "plan", "op": "set", "value": "pro"},
        {"id": "drop", "type": "update_attribute", "attribute": "old", "op": "unset"},
    ]
    contact = await stack.contact(attributes={"score": 1, "old": "x"})
    state = await stack.until(
        await stack.enroll(await stack.automation(steps), contact), lambda s: s["status"] == "completed"
    )
    assert (await stack.get(f"/contacts/{contact}"))["attributes"] == {"score": 5, "plan": "pro"}
    assert state["history"][0]["detail"] == {"attribute": "score", "old": 1, "new": 6}


async def test_go_to_loops_end_at_the_loop_budget(stack: Stack) -> None:
    steps = [
        {"id": "bump", "type": "update_attribute", "attribute": "laps", "op": "increment"},
        wait("tick", "PT10S"),
        {"id": "again", "type": "go_to", "target": "bump"},
    ]
    contact = await stack.contact()
    enrollment = await stack.enroll(await stack.automation(steps), contact)
    await stack.at(enrollment, "tick")
    await stack.skip(timedelta(minutes=10))
    state = await stack.until(enrollment, lambda s: s["status"] == "failed")
    assert "loop budget exceeded: step 'bump' ran 50 times in 30 minutes" in state["end_reason"]
    assert (await stack.get(f"/contacts/{contact}"))["attributes"]["laps"] == 50


async def test_wait_until_a_date_time(stack: Stack) -> None:
    assert stack.env is not None
    # The time-skipping server's clock runs ahead of ours once tests skipped time.
    until = (await stack.env.get_current_time() + timedelta(days=2)).replace(microsecond=0)
    automation = await stack.automation(
        [{"id": "launch", "type": "wait", "until": until.isoformat()}, email("go")]
    )
    enrollment = await stack.enroll(automation, await stack.contact())
    state = await stack.at(enrollment, "launch")
    assert state["history"][-1]["detail"]["until"] == until.isoformat()
    await stack.skip(DAY * 3)
    state = await stack.until(enrollment, lambda s: s["status"] == "completed")
    assert [m["step_id"] for m in state["messages"]] == ["go"]


async def test_removing_an_enrollment_ends_it_at_once(stack: Stack) -> None:
    automation = await stack.automation([wait("pause", "P10D"), email("never")])
    enrollment = await stack.enroll(automation, await stack.contact())
    await stack.at(enrollment, "pause")
    response = await stack.http.delete(f"/enrollments/{enrollment}")
    assert response.status_code == 200 and response.json()["status"] == "removed"
    state = await stack.state(enrollment)
    assert state["status"] == "removed" and state["messages"] == []


async def test_sends_are_skipped_with_a_reason_and_the_contact_advances(stack: Stack) -> None:
    automation = await stack.automation(
        [email("hi"), email("render", subject="{{ contact.id.__class__ }}x"), email("after")]
    )
    contact = await stack.contact()
    await stack.event(contact, "email.unsubscribed", message_id="msg_elsewhere")
    state = await stack.until(await stack.enroll(automation, contact), lambda s: s["status"] == "completed")
    assert [h["detail"] for h in state["history"] if h["step_id"] == "hi"] == [
        {"reason": "contact is unsubscribed"}
    ]
    assert outcomes(state, "after") == ["skipped"]

    no_address = await stack.post("/contacts", {"first_name": "Nomail"}, expect=201)
    state = await stack.until(
        await stack.enroll(automation, no_address["id"]), lambda s: s["status"] == "completed"
    )
    assert outcomes(state, "hi") == ["skipped"]


async def test_a_template_that_fails_to_render_fails_its_step_only(stack: Stack) -> None:
    automation = await stack.automation([email("bad", subject="{{ 1 / 0 }}"), email("good")])
    state = await stack.until(
        await stack.enroll(automation, await stack.contact()), lambda s: s["status"] == "completed"
    )
    assert (
        outcomes(state, "bad") == ["failed"] and "division by zero" in state["history"][0]["detail"]["error"]
    )
    assert [m["step_id"] for m in state["messages"]] == ["good"]


async def test_a_retried_tag_step_repeats_nothing_and_hands_back_its_event(stack: Stack) -> None:
    """A crash after the step's transaction: the retry must not add a second
    event, and must return the first one, which its enrollment has not applied."""
    contact = await stack.contact()
    activities = TagActivities(Deps(stack.engine, EventBus(stack.engine, stack.client), Outbox(stack.engine)))
    step = TagInput(key="en.1/tag/1", contact_id=contact, tag="vip", add=True, enrollment_id="en.1")
    first = await ActivityEnvironment().run(activities.change_tag, step)
    retry = await ActivityEnvironment().run(activities.change_tag, step)
    assert first.changed and retry == first and [e.id for e in first.events] == ["en.1/tag/1/0"]
    assert (await stack.get(f"/contacts/{contact}"))["tags"] == ["vip"]
    with Session(stack.engine) as session:
        tagged = select(EventRow).where(EventRow.contact_id == contact, EventRow.type == "tag.added")
        assert len(session.exec(tagged).all()) == 1


async def test_registering_an_enrollment_records_it_once_and_hands_back_the_events_it_missed(
    stack: Stack,
) -> None:
    """Whether the API or the workflow's first activity records the row first,
    there is one row, and the contact's events since enrolling come back."""
    contact = await stack.contact()
    await stack.event(contact, "custom", name="visited", value="old")
    deps = Deps(stack.engine, EventBus(stack.engine, stack.client), Outbox(stack.engine))
    activities = EnrollmentActivities(deps)
    for seq in (1, 2):
        entry = RegisterInput(
            enrollment_id=f"en.{contact}.{seq}", automation_id="en", version=1,
            contact_id=contact, seq=seq, enrolled_at=utcnow(),
        )  # fmt: skip
        missed = await stack.event(contact, "custom", name="visited", value=f"new {seq}")
        if seq == 2:  # The API came first.
            with Session(stack.engine) as session:
                enrollments.record(session, entry)
        caught_up = await ActivityEnvironment().run(activities.register_enrollment, entry)
        assert [e.id for e in caught_up] == [missed["event_id"]]  # Not the one from before enrolling.
        with Session(stack.engine) as session:
            rows = session.exec(select(EnrollmentRow).where(EnrollmentRow.contact_id == contact)).all()
        assert sorted(r.id for r in rows) == [f"en.{contact}.{s}" for s in range(1, seq + 1)]


@pytest.fixture
def default_zone() -> Iterator[str]:
    """GOALFLOW_TIMEZONE, the send window's zone for contacts without one, for one test."""
    before = os.environ.get("GOALFLOW_TIMEZONE")
    os.environ["GOALFLOW_TIMEZONE"] = "Asia/Tokyo"
    settings.cache_clear()
    yield "Asia/Tokyo"
    if before is None:
        del os.environ["GOALFLOW_TIMEZONE"]
    else:
        os.environ["GOALFLOW_TIMEZONE"] = before
    settings.cache_clear()


async def test_a_send_is_held_for_the_window_in_the_contacts_time_zone_and_a_goal_still_pulls(
    stack: Stack, default_zone: str
) -> None:
    """Sending rules 1, with the real send: outside the window in the contact's
    time zone (else GOALFLOW_TIMEZONE) nothing is sent, the enrollment and the
    Temporal UI say until when, a goal still pulls the contact, and when the
    window opens, in each contact's own time, the send goes out."""
    assert stack.env is not None
    new_york = ZoneInfo("America/New_York")
    # One day of the week, two days ahead in New York: closed now in every zone.
    day = (await stack.env.get_current_time()).astimezone(new_york).date() + 2 * DAY
    window = {"days": [DAYS[day.weekday()]], "start": "09:00", "end": "17:00"}
    steps = [email("welcome"), goal("bought", tag_added("bought")), email("thanks", subject="thanks")]
    automation = await stack.automation(steps, send_window=window)
    held: dict[str | None, tuple[str, str]] = {}
    new_york_opens = datetime.combine(day, time(9), new_york)
    default_opens = datetime.combine(day, time(9), ZoneInfo(default_zone))  # 00:00 UTC that day.
    for zone, opens in [("America/New_York", new_york_opens), (None, default_opens)]:
        contact = await stack.contact(timezone=zone)
        enrollment = await stack.enroll(automation, contact)
        state = await stack.until(
            enrollment, lambda s: s["history"] and s["history"][-1]["outcome"] == "held"
        )
        assert state["current_step"] == "welcome" and state["messages"] == [], zone
        # In the contact's own time: "09:00-05:00" for the New Yorker.
        assert state["history"][-1]["detail"] == {"until": opens.isoformat(), "reason": "the send window"}
        ui = await stack.client.get_workflow_handle(enrollment).query(
            "__temporal_workflow_metadata", result_type=WorkflowMetadata
        )
        until = f"{opens.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
        assert ui.current_details == f"at welcome, held for the send window until {until}; goals met: none"
        held[zone] = contact, enrollment

    new_yorker, enrollment = held["America/New_York"]
    await stack.post(f"/contacts/{new_yorker}/tags", {"tag": "bought"})
    state = await stack.until(
        enrollment, lambda s: s["history"][-1]["outcome"] == "held" and len(s["history"]) > 1
    )
    assert [(h["step_id"], h["outcome"]) for h in state["history"]] == [
        ("welcome", "held"),
        ("bought", "goal_met"),
        ("bought", "done"),
        ("thanks", "held"),  # The send after the goal waits for the window too.
    ]
    assert state["history"][1]["detail"]["from_step"] == "welcome"
    assert state["messages"] == []
    with Session(stack.engine) as session:
        assert session.exec(select(Message).where(Message.contact_id == new_yorker)).all() == []

    # The window opens for the contact without a zone; the New Yorker's opens later.
    contact, waiting = held[None]
    await stack.skip(default_opens - await stack.env.get_current_time() + timedelta(minutes=1))
    sent = await stack.until(waiting, lambda s: s["status"] == "completed")
    outcomes = [(h["step_id"], h["outcome"]) for h in sent["history"]]
    assert outcomes[:2] == [("welcome", "held"), ("welcome", "done")] and ("thanks", "done") in outcomes
    assert datetime.fromisoformat(sent["history"][1]["at"]) >= default_opens
    assert [m["step_id"] for m in sent["messages"]] == ["welcome", "thanks"]
    still = await stack.state(enrollment)
    assert still["history"] == state["history"] and still["messages"] == []
    assert new_york_opens > await stack.env.get_current_time()
