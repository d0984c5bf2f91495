"""Sales sequences (SPEC §2): an automation of kind `sequence`, its emails one
to one from its sender, `enroll_in_sequence` and `unenroll_from_sequence`,
and the ends a contact's answer brings (a reply, a meeting booked). Through
the HTTP API, the worker and the real Temporal time-skipping server, on
SQLite and PostgreSQL."""

import asyncio
import uuid
from typing import Any

import pytest
from sqlmodel import Session

from shared.domain.definition import Plan, parse_definition, plan_of
from shared.domain.events import Event
from shared.domain.sequences import ended_by
from shared.store.db import EnrollmentRow
from tests.builders import email, wait
from tests.conftest import Stack

pytestmark = pytest.mark.workflow

REP = "rep@acme.test"
# Intro, three days, follow-up: a contact who answers gets no follow-up.
STEPS = [email("intro", subject="Quick question"), wait("pause", "P3D"), email("followup", subject="Bump")]


def enroll(step_id: str, sequence: str, **fields: Any) -> dict[str, Any]:
    return {"id": step_id, "type": "enroll_in_sequence", "sequence": sequence, **fields}


def entries(state: dict[str, Any], step_id: str) -> list[dict[str, Any]]:
    return [{"outcome": h["outcome"], **h["detail"]} for h in state["history"] if h["step_id"] == step_id]


async def sequence(stack: Stack, sequence_id: str, sender: str = REP) -> str:
    return await stack.automation(STEPS, id=sequence_id, kind="sequence", sender=sender)


async def ended(stack: Stack, enrollment_id: str) -> dict[str, Any]:
    """Its state once it ended and its row says so; polled, so the server's
    clock never skips past the sequences' waits."""
    state = await stack.until(enrollment_id, lambda s: s["status"] != "running")
    for _ in range(300):
        with Session(stack.engine) as session:
            row = session.get(EnrollmentRow, enrollment_id)
            if row is not None and row.status != "running":
                return state
        await asyncio.sleep(0.05)
    raise AssertionError(f"{enrollment_id}'s row still reads running")


async def in_sequence(stack: Stack, sequence_id: str, contact: str) -> tuple[str, str]:
    """Enroll the contact by hand; its enrollment and the intro's message id, once sent."""
    enrollment = await stack.enroll(sequence_id, contact)
    state = await stack.at(enrollment, "pause")
    return enrollment, state["messages"][0]["message_id"]


async def test_a_sequence_needs_a_sender_and_only_a_sequence_has_one(stack: Stack) -> None:
    cases = [
        ({"kind": "sequence"}, ["body", "sender"], "a sequence needs a sender"),
        ({"sender": REP}, ["body", "sender"], "only a sequence has a sender"),
        ({"kind": "sequence", "sender": "not an address"}, ["body", "sender"], "not an email address"),
    ]
    for fields, loc, says in cases:
        response = await stack.http.post("/automations", json={"name": "s", "steps": STEPS, **fields})
        assert response.status_code == 422, (fields, response.text)
        assert response.json()["detail"][0]["loc"] == loc and says in response.text, response.text
    own = [{**STEPS[0], "sender": "other@acme.test"}]
    response = await stack.http.post(
        "/automations", json={"name": "s", "kind": "sequence", "sender": REP, "steps": own}
    )
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == [
        "body",
        "steps",
        0,
        "sender",
    ]
    saved = await stack.post(
        "/automations", {"name": "s", "kind": "sequence", "sender": REP, "steps": STEPS}, expect=201
    )
    assert (saved["kind"], saved["sender"]) == ("sequence", REP)
    plain = await stack.get(f"/automations/{await stack.automation(STEPS)}")
    assert plain["kind"] == "automation" and "sender" not in plain


async def test_the_senders_daily_limit_skips_the_enrollments_past_it(stack: Stack) -> None:
    await stack.post("/senders", {"email": REP, "daily_limit": 3}, expect=201)
    outreach = await sequence(stack, "outreach")
    starter = await stack.automation([enroll("join", outreach)], id="starter")
    outcomes = []
    for _ in range(5):
        contact = await stack.contact()
        state = await ended(stack, await stack.enroll(starter, contact))
        (joined,) = entries(state, "join")
        outcomes.append(joined)
        if joined["outcome"] == "done":
            inside = await stack.at(joined["enrollment_id"], "pause")  # Its intro went out.
            assert inside["entered_by"] == {"automation": starter, "enrollment_id": state["enrollment_id"]}
            (message,) = await stack.get(f"/contacts/{contact}/messages")
            assert (message["step_id"], message["sender"]) == ("intro", REP)
    assert [o["outcome"] for o in outcomes] == ["done"] * 3 + ["skipped"] * 2
    assert outcomes[3:] == [{"outcome": "skipped", "reason": "daily send limit reached"}] * 2


async def test_the_steps_sender_sends_that_enrollments_emails(stack: Stack) -> None:
    outreach = await sequence(stack, "outreach")
    starter = await stack.automation([enroll("join", outreach, sender="Bo <bo@acme.test>")], id="starter")
    contact = await stack.contact()
    state = await ended(stack, await stack.enroll(starter, contact))
    (joined,) = entries(state, "join")
    await stack.at(joined["enrollment_id"], "pause")
    (message,) = await stack.get(f"/contacts/{contact}/messages")
    assert message["sender"] == "Bo <bo@acme.test>"


async def test_a_reply_to_one_of_its_emails_ends_the_sequence(stack: Stack) -> None:
    outreach = await sequence(stack, "outreach")
    contact = await stack.contact()
    enrollment, message_id = await in_sequence(stack, outreach, contact)
    # A reply to some other message does not end it.
    await stack.event(contact, "email.replied", message_id="msg_elsewhere")
    await stack.received(enrollment, 1)
    assert (await stack.state(enrollment))["status"] == "running"
    await stack.event(contact, "email.replied", message_id=message_id)
    state = await ended(stack, enrollment)
    assert (state["status"], state["end_reason"]) == ("completed", "replied")
    assert [m["step_id"] for m in state["messages"]] == ["intro"]


async def test_a_booked_meeting_ends_the_sequence(stack: Stack) -> None:
    outreach = await sequence(stack, "outreach")
    contact = await stack.contact()
    enrollment, _ = await in_sequence(stack, outreach, contact)
    appointment = {"calendar_id": "cal_1", "appointment_id": f"ap_{uuid.uuid4().hex[:8]}"}
    await stack.event(contact, "appointment.status", status="confirmed", **appointment)
    await stack.received(enrollment, 1)
    assert (await stack.state(enrollment))["status"] == "running"
    await stack.event(contact, "appointment.status", status="new", **appointment)
    state = await ended(stack, enrollment)
    assert (state["status"], state["end_reason"]) == ("completed", "meeting booked")
    assert [m["step_id"] for m in state["messages"]] == ["intro"]


async def test_an_automation_that_is_not_a_sequence_ends_on_neither(stack: Stack) -> None:
    plain = await stack.automation(STEPS)
    contact = await stack.contact()
    enrollment, message_id = await in_sequence(stack, plain, contact)
    await stack.event(contact, "email.replied", message_id=message_id)
    await stack.received(enrollment, 1)
    assert (await stack.state(enrollment))["status"] == "running"


async def test_enroll_is_skipped_for_a_deleted_sequence_or_a_contact_in_it(stack: Stack) -> None:
    outreach = await sequence(stack, "outreach")
    retired = await sequence(stack, "retired")
    plain = await stack.automation(STEPS, id="plain")
    await stack.http.delete(f"/automations/{retired}")
    starter = await stack.automation(
        [
            enroll("deleted", retired),
            enroll("missing", "nowhere"),
            enroll("plain", plain),
            enroll("join", outreach),
        ],
        id="starter",
    )
    contact = await stack.contact()
    inside, _ = await in_sequence(stack, outreach, contact)
    state = await ended(stack, await stack.enroll(starter, contact))
    assert entries(state, "deleted") == [{"outcome": "skipped", "reason": "sequence deleted"}]
    assert entries(state, "missing") == [{"outcome": "skipped", "reason": "sequence not found"}]
    assert entries(state, "plain") == [{"outcome": "skipped", "reason": "not a sequence"}]
    assert entries(state, "join") == [{"outcome": "skipped", "reason": "already enrolled"}]
    assert (await stack.state(inside))["status"] == "running"


async def test_unenroll_from_sequence_ends_the_contacts_enrollment_there(stack: Stack) -> None:
    outreach = await sequence(stack, "outreach")
    stopper = await stack.automation(
        [{"id": "stop", "type": "unenroll_from_sequence", "sequence": outreach}], id="stopper"
    )
    contact = await stack.contact()
    inside, _ = await in_sequence(stack, outreach, contact)
    state = await ended(stack, await stack.enroll(stopper, contact))
    assert entries(state, "stop") == [{"outcome": "done", "enrollment_id": inside}]
    removed = await ended(stack, inside)
    assert (removed["status"], removed["end_reason"]) == (
        "removed",
        "unenrolled by automation 'stopper', step 'stop'",
    )
    state = await ended(stack, await stack.enroll(stopper, contact))
    assert entries(state, "stop") == [{"outcome": "skipped", "reason": "not enrolled"}]


def test_what_ends_a_sequence_is_a_reply_to_its_own_email_or_a_new_meeting() -> None:
    def event(type: str, **data: Any) -> Event:
        return Event(id=uuid.uuid4().hex, contact_id="c", type=type, data=data)  # type: ignore[arg-type]

    sent = {"msg_1"}
    assert ended_by(event("email.replied", message_id="msg_1"), sent) == "replied"
    assert ended_by(event("email.replied", message_id="msg_2"), sent) is None
    assert ended_by(event("email.opened", message_id="msg_1"), sent) is None
    booked = {"calendar_id": "cal", "appointment_id": "a"}
    assert ended_by(event("appointment.status", status="new", **booked), sent) == "meeting booked"
    assert ended_by(event("appointment.status", status="confirmed", **booked), sent) is None


def test_a_plan_carries_its_kind_and_plans_from_before_are_automations() -> None:
    definition = {"name": "s", "kind": "sequence", "sender": REP, "steps": STEPS}
    plan = plan_of(parse_definition(definition))
    assert (plan.kind, plan.sender) == ("sequence", REP)
    before = plan.model_dump(exclude={"kind", "sender"})
    assert Plan.model_validate(before).kind == "automation"
