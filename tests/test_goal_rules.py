"""SPEC §3 goal rules G1–G13, each through the HTTP API against the real
Temporal time-skipping server (waits of days pass in milliseconds)."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType

from tests.builders import DAY, NURTURE, email, goal, tag_added, wait
from tests.conftest import Stack
from worker.email import OutgoingEmail
from worker.outbox import Outbox

pytestmark = pytest.mark.workflow


def moves(state: dict[str, Any]) -> list[dict[str, Any]]:
    return [h for h in state["history"] if h["outcome"] == "goal_met" and h["detail"].get("moved")]


def ran(state: dict[str, Any], step_id: str) -> int:
    return sum(1 for h in state["history"] if h["step_id"] == step_id and h["outcome"] == "done")


async def test_g1_goals_listen_from_the_start_whatever_the_step(stack: Stack) -> None:
    contact = await stack.contact()
    enrollment = await stack.enroll(await stack.automation(NURTURE), contact)
    await stack.at(enrollment, "pause")
    await stack.skip(DAY * 2)  # Two days into the first wait, far from the goal step.
    await stack.post(f"/contacts/{contact}/tags", {"tag": "bought"})
    state = await stack.until(enrollment, lambda s: s["status"] == "completed")
    assert state["goals_met"] == ["purchased"]
    assert moves(state)[0]["detail"]["from_step"] == "pause"


async def test_g2_events_before_the_enrollment_never_count(stack: Stack) -> None:
    contact = await stack.contact()
    before = datetime.now(UTC) - timedelta(hours=1)
    # One stored before the enrollment, one delivered late with an old occurred_at.
    early = {
        "id": f"ev_{uuid.uuid4().hex}",
        "contact_id": contact,
        "type": "link.clicked",
        "data": {"link_id": "lnk_1"},
        "occurred_at": before.isoformat(),
    }
    await stack.post("/events", early, expect=202)
    automation = await stack.automation(
        [wait("pause"), goal("clicked", {"type": "link.clicked", "links": ["lnk_1"]}, if_unmet="end")]
    )
    enrollment = await stack.enroll(automation, contact)
    late = {**early, "id": f"ev_{uuid.uuid4().hex}"}
    answer = await stack.post("/events", late, expect=202)
    assert answer["delivered_to"] == []
    await stack.at(enrollment, "pause")
    await stack.skip(DAY * 4)
    state = await stack.until(enrollment, lambda s: s["status"] == "completed")
    assert state["goals_met"] == []
    assert state["end_reason"] == "goal 'clicked' not met"


async def test_g3_a_met_goal_cancels_the_wait_and_skips_the_steps_between(stack: Stack) -> None:
    contact = await stack.contact()
    enrollment = await stack.enroll(await stack.automation(NURTURE), contact)
    await stack.at(enrollment, "pause")
    await stack.post(f"/contacts/{contact}/tags", {"tag": "bought"})
    state = await stack.until(enrollment, lambda s: s["status"] == "completed")
    # `followup` and `pause2` were skipped; the step after the goal ran.
    assert [m["step_id"] for m in state["messages"]] == ["welcome"]
    assert ran(state, "pause") == 0 and ran(state, "followup") == 0
    assert ran(state, "thanks") == 1
    contact_now = await stack.get(f"/contacts/{contact}")
    assert "customer" in contact_now["tags"]


async def test_g4_a_goal_is_met_once(stack: Stack) -> None:
    contact = await stack.contact()
    clicked = {"type": "link.clicked", "links": ["lnk_1"]}
    automation = await stack.automation([wait("pause"), goal("clicked", clicked), wait("after", "P10D")])
    enrollment = await stack.enroll(automation, contact)
    await stack.at(enrollment, "pause")
    await stack.event(contact, "link.clicked", link_id="lnk_1")
    await stack.at(enrollment, "after")
    await stack.event(contact, "link.clicked", link_id="lnk_1")
    state = await stack.received(enrollment, 2)
    assert state["goals_met"] == ["clicked"]
    assert len([h for h in state["history"] if h["outcome"] == "goal_met"]) == 1


async def test_g4_a_tag_goal_rearms_when_the_tag_is_removed(stack: Stack) -> None:
    contact = await stack.contact()
    automation = await stack.automation([wait("pause"), goal("vip", tag_added("vip")), wait("after", "P10D")])
    enrollment = await stack.enroll(automation, contact)
    await stack.at(enrollment, "pause")
    await stack.post(f"/contacts/{contact}/tags", {"tag": "vip"})
    await stack.at(enrollment, "after")
    await stack.http.delete(f"/contacts/{contact}/tags/vip")
    state = await stack.until(enrollment, lambda s: s["goals_met"] == [])
    await stack.post(f"/contacts/{contact}/tags", {"tag": "vip"})
    state = await stack.until(enrollment, lambda s: s["goals_met"] == ["vip"])
    outcomes = [h["outcome"] for h in state["history"] if h["step_id"] == "vip"]
    assert outcomes == ["goal_met", "done", "goal_rearmed", "goal_met"]
    assert state["current_step"] == "after"  # Met again, but never moved back (G6).


async def test_g5_one_event_meeting_two_goals_moves_to_the_furthest(stack: Stack) -> None:
    contact = await stack.contact()
    automation = await stack.automation(
        [
            wait("pause"),
            goal("near", tag_added("bought"), if_unmet="wait"),
            email("upsell"),
            goal("far", tag_added("bought"), if_unmet="wait"),
            wait("after", "P10D"),
        ]
    )
    enrollment = await stack.enroll(automation, contact)
    await stack.at(enrollment, "pause")
    await stack.post(f"/contacts/{contact}/tags", {"tag": "bought"})
    state = await stack.at(enrollment, "after")
    assert sorted(state["goals_met"]) == ["far", "near"]
    assert [m["detail"]["from_step"] for m in moves(state)] == ["pause"]
    assert moves(state)[0]["step_id"] == "far"
    assert state["messages"] == []  # `upsell` lay between and was skipped.


async def test_g6_a_passed_goal_is_recorded_but_never_moves_back(stack: Stack) -> None:
    contact = await stack.contact()
    automation = await stack.automation(
        [
            goal("early", tag_added("bought"), if_unmet="continue"),
            email("welcome"),
            wait("pause", "P10D"),
        ]
    )
    enrollment = await stack.enroll(automation, contact)
    await stack.at(enrollment, "pause")
    await stack.post(f"/contacts/{contact}/tags", {"tag": "bought"})
    state = await stack.until(enrollment, lambda s: s["goals_met"] == ["early"])
    assert moves(state) == []
    assert state["current_step"] == "pause"
    assert ran(state, "welcome") == 1
    met = next(h for h in state["history"] if h["outcome"] == "goal_met")
    assert met["detail"]["from_step"] == "pause" and met["detail"]["moved"] is False


async def test_g7_reaching_a_goal_met_unmet_end_continue_wait(stack: Stack) -> None:
    contact = await stack.contact()
    automation = await stack.automation(
        [
            goal("ends", tag_added("x"), if_unmet="end"),
            email("never"),
        ]
    )
    state = await stack.until(await stack.enroll(automation, contact), lambda s: s["status"] == "completed")
    assert state["end_reason"] == "goal 'ends' not met" and state["messages"] == []

    contact = await stack.contact()
    automation = await stack.automation([goal("goes_on", tag_added("x"), if_unmet="continue"), email("next")])
    state = await stack.until(await stack.enroll(automation, contact), lambda s: s["status"] == "completed")
    assert [m["step_id"] for m in state["messages"]] == ["next"]

    contact = await stack.contact()
    automation = await stack.automation(
        [
            goal("holds", tag_added("x"), if_unmet="wait", timeout="P7D", on_timeout="late"),
            email("met_in_time", subject="met"),
            {"id": "stop", "type": "end"},
            email("late", subject="late"),
        ]
    )
    waiting = await stack.enroll(automation, contact)
    await stack.at(waiting, "holds")
    await stack.post(f"/contacts/{contact}/tags", {"tag": "x"})
    state = await stack.until(waiting, lambda s: s["status"] == "completed")
    assert [m["step_id"] for m in state["messages"]] == ["met_in_time"]

    contact = await stack.contact()
    timing_out = await stack.enroll(automation, contact)
    await stack.at(timing_out, "holds")
    await stack.skip(DAY * 8)
    state = await stack.until(timing_out, lambda s: s["status"] == "completed")
    assert [m["step_id"] for m in state["messages"]] == ["late"]

    # Reaching a goal met earlier (while the contact was past it) goes on.
    contact = await stack.contact()
    automation = await stack.automation(
        [
            {"id": "start", "type": "go_to", "target": "pause"},
            goal("ok", tag_added("x"), if_unmet="end"),
            email("on"),
            {"id": "stop", "type": "end"},
            wait("pause"),
            {"id": "back", "type": "go_to", "target": "ok"},
        ]
    )
    met_first = await stack.enroll(automation, contact)
    await stack.at(met_first, "pause")
    await stack.post(f"/contacts/{contact}/tags", {"tag": "x"})
    await stack.until(met_first, lambda s: s["goals_met"] == ["ok"])
    await stack.skip(DAY * 4)
    state = await stack.until(met_first, lambda s: s["status"] == "completed")
    assert moves(state) == []
    assert [m["step_id"] for m in state["messages"]] == ["on"]


async def test_g8_email_goals_count_only_this_enrollments_messages(stack: Stack) -> None:
    contact = await stack.contact()
    opened = {"type": "email", "actions": ["opened"], "steps": ["welcome"]}
    mine = await stack.automation(
        [email("welcome"), email("other"), wait("pause"), goal("read", opened), wait("after", "P10D")]
    )
    theirs = await stack.automation([email("newsletter"), wait("pause", "P10D")])
    enrollment = await stack.enroll(mine, contact)
    foreign = await stack.enroll(theirs, contact)
    state = await stack.at(enrollment, "pause")
    foreign_state = await stack.at(foreign, "pause")
    by_step = {m["step_id"]: m["message_id"] for m in state["messages"]}
    # Another automation's message, then this enrollment's message from the wrong step.
    await stack.event(contact, "email.opened", message_id=foreign_state["messages"][0]["message_id"])
    await stack.event(contact, "email.opened", message_id=by_step["other"])
    state = await stack.received(enrollment, 2)
    assert state["goals_met"] == [] and state["current_step"] == "pause"
    await stack.event(contact, "email.opened", message_id=by_step["welcome"])
    state = await stack.at(enrollment, "after")
    assert state["goals_met"] == ["read"]


async def test_g9_tag_changes_count_whatever_their_origin(stack: Stack) -> None:
    contact = await stack.contact()
    waiting = await stack.automation([wait("pause", "P10D"), goal("vip", tag_added("vip")), wait("after")])
    tagger = await stack.automation([{"id": "tag_vip", "type": "add_tag", "tag": "vip"}])
    enrollment = await stack.enroll(waiting, contact)
    await stack.at(enrollment, "pause")
    await stack.enroll(tagger, contact)  # Another automation's step adds the tag.
    state = await stack.at(enrollment, "after")
    assert state["goals_met"] == ["vip"]

    # This enrollment's own step.
    contact = await stack.contact()
    own = await stack.automation(
        [
            {"id": "tag_self", "type": "add_tag", "tag": "engaged"},
            wait("pause", "P10D"),
            goal("engaged", tag_added("engaged"), if_unmet="end"),
            email("reward"),
        ]
    )
    state = await stack.until(await stack.enroll(own, contact), lambda s: s["status"] == "completed")
    assert state["goals_met"] == ["engaged"]
    assert moves(state)[0]["detail"]["from_step"] in ("tag_self", "pause")
    assert [m["step_id"] for m in state["messages"]] == ["reward"]

    # An appointment change through the API.
    contact = await stack.contact()
    confirmed = {"type": "appointment", "calendar": "cal_1", "statuses": ["confirmed"]}
    booked = await stack.automation([wait("pause", "P10D"), goal("booked", confirmed), wait("after")])
    enrollment = await stack.enroll(booked, contact)
    await stack.at(enrollment, "pause")
    appointment = {"contact_id": contact, "calendar_id": "cal_1", "status": "new"}
    await stack.http.put("/appointments/ap_1" + contact, json=appointment)
    await stack.http.put("/appointments/ap_1" + contact, json={**appointment, "status": "confirmed"})
    state = await stack.at(enrollment, "after")
    assert state["goals_met"] == ["booked"] and state["events_received"] == 2


async def test_a_tag_steps_own_event_is_applied_without_a_signal_or_a_failed_task(stack: Stack) -> None:
    contact = await stack.contact()
    other = await stack.automation(
        [wait("pause", "P10D"), goal("engaged", tag_added("engaged")), wait("after")]
    )
    watching = await stack.enroll(other, contact)
    await stack.at(watching, "pause")
    own = await stack.automation(
        [
            {"id": "tag_self", "type": "add_tag", "tag": "engaged"},
            goal("engaged", tag_added("engaged"), if_unmet="end"),
            email("reward"),
        ]
    )
    enrollment = await stack.enroll(own, contact)
    state = await stack.until(enrollment, lambda s: s["status"] == "completed")
    assert state["goals_met"] == ["engaged"] and state["events_received"] == 1
    assert [m["step_id"] for m in state["messages"]] == ["reward"]
    # A signal to itself used to arrive while the step's workflow task was open:
    # the Temporal UI showed a failed task (UNHANDLED_COMMAND) and the step ran twice.
    history = await stack.client.get_workflow_handle(enrollment).fetch_history()
    kinds = {EventType.Name(e.event_type) for e in history.events}
    assert "EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED" not in kinds
    assert "EVENT_TYPE_WORKFLOW_TASK_FAILED" not in kinds
    # The contact's other enrollment still gets it as a signal.
    assert (await stack.at(watching, "after"))["goals_met"] == ["engaged"]


async def test_g10_the_same_event_twice_counts_once(stack: Stack) -> None:
    contact = await stack.contact()
    automation = await stack.automation([wait("pause", "P10D")])
    enrollment = await stack.enroll(automation, contact)
    await stack.at(enrollment, "pause")
    event = {"id": f"ev_{uuid.uuid4().hex}", "contact_id": contact, "type": "custom", "data": {"name": "x"}}
    first = await stack.post("/events", event, expect=202)
    again = await stack.post("/events", event, expect=200)
    assert again == first == {"event_id": event["id"], "delivered_to": [enrollment]}
    # A redelivery that bypasses the API (a forwarder's retry racing the sweep) too.
    from shared.contracts import EVENT_SIGNAL
    from shared.domain.events import Event

    await stack.client.get_workflow_handle(enrollment).signal(EVENT_SIGNAL, Event.model_validate(event))
    await stack.event(contact, "custom", name="y")
    state = await stack.received(enrollment, 2)
    assert state["events_received"] == 2


async def test_g11_a_later_change_never_undoes_a_move(stack: Stack) -> None:
    contact = await stack.contact()
    confirmed = {"type": "appointment", "calendar": "cal_1", "statuses": ["confirmed"]}
    automation = await stack.automation([wait("pause", "P10D"), goal("booked", confirmed), wait("after")])
    enrollment = await stack.enroll(automation, contact)
    await stack.at(enrollment, "pause")
    body = {"contact_id": contact, "calendar_id": "cal_1", "status": "confirmed"}
    await stack.http.put(f"/appointments/ap_{contact}", json=body)
    await stack.at(enrollment, "after")
    await stack.http.put(f"/appointments/ap_{contact}", json={**body, "status": "cancelled"})
    state = await stack.received(enrollment, 2)
    assert state["goals_met"] == ["booked"] and state["current_step"] == "after"


async def test_g12_only_positive_conditions_are_goals(stack: Stack) -> None:
    negative = goal("not_opened", {"type": "email", "actions": ["not_opened"]})
    response = await stack.http.post("/automations", json={"name": "x", "steps": [email("a"), negative]})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][:4] == ["body", "steps", 1, "criteria"]
    # "Did not open within 3 days" is a wait_for_event with a timeout.
    contact = await stack.contact()
    automation = await stack.automation(
        [
            email("welcome"),
            {
                "id": "opened",
                "type": "wait_for_event",
                "timeout": "P3D",
                "on_timeout": "nudge",
                "criteria": [{"type": "email", "actions": ["opened"]}],
            },
            {"id": "done", "type": "end"},
            email("nudge", subject="You did not open"),
        ]
    )
    enrollment = await stack.enroll(automation, contact)
    await stack.at(enrollment, "opened")
    await stack.skip(DAY * 4)
    state = await stack.until(enrollment, lambda s: s["status"] == "completed")
    assert [m["step_id"] for m in state["messages"]] == ["welcome", "nudge"]


async def test_g13_every_move_is_recorded(stack: Stack) -> None:
    contact = await stack.contact()
    enrollment = await stack.enroll(await stack.automation(NURTURE), contact)
    await stack.at(enrollment, "pause")
    answer = await stack.post(f"/contacts/{contact}/tags", {"tag": "bought"})
    state = await stack.until(enrollment, lambda s: s["status"] == "completed")
    [move] = moves(state)
    assert move["step_id"] == "purchased"
    assert move["detail"] == {"event_id": answer["event_id"], "from_step": "pause", "moved": True}


async def test_a_send_a_crash_left_unrecorded_is_recorded_though_a_goal_skipped_its_step(
    stack: Stack,
) -> None:
    """A crash after a send's local activity, before its workflow task completed:
    the email went out, and the retried task, seeing the goal met meanwhile,
    skips the step. The outbox row below is what that cut-short attempt left."""
    contact = await stack.contact(email="cut@short.io")
    steps = [wait("pause", "P1D"), email("followup"), goal("purchased", tag_added("bought"))]
    enrollment = await stack.enroll(await stack.automation(steps), contact)
    await stack.at(enrollment, "pause")
    cut_short = OutgoingEmail(
        f"{enrollment}/followup/1", enrollment, "followup", contact, "cut@short.io", "Hi", "B"
    )
    message_id = await Outbox(stack.engine).send(cut_short)
    await stack.post(f"/contacts/{contact}/tags", {"tag": "bought"})
    state = await stack.until(enrollment, lambda s: s["status"] == "completed")
    assert state["messages"] == [{"message_id": message_id, "step_id": "followup", "channel": "email"}]
    assert [h["detail"] for h in state["history"] if h["step_id"] == "followup"] == [
        {"message_id": message_id, "cut_short": True}
    ]
    assert moves(state)[0]["detail"]["from_step"] == "pause"
