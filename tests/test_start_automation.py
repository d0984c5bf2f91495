"""`start_automation` and `remove_from_automation` (SPEC §2): through the HTTP
API, the worker and the real Temporal time-skipping server, on SQLite and
PostgreSQL. The other automation's entry rules hold, each step run enters or
ends once whatever retries, a definition naming itself is refused, and a loop
across automations is bounded per contact."""

import asyncio
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session, select

from shared.contracts import ByAutomation
from shared.domain.steps.other_automations import LOOP_BUDGET, LOOP_REASON, LOOP_WINDOW
from shared.services import enrollments, other_automations
from shared.services.context import Services
from shared.services.other_automations import FromStep
from shared.store.db import EnrollmentRow, StepRun
from tests.builders import DAY, wait
from tests.conftest import Stack
from worker import enrollment as interpreter

pytestmark = pytest.mark.workflow


def start(step_id: str, automation: str) -> dict[str, Any]:
    return {"id": step_id, "type": "start_automation", "automation": automation}


def remove(step_id: str, automation: str) -> dict[str, Any]:
    return {"id": step_id, "type": "remove_from_automation", "automation": automation}


def entries(state: dict[str, Any], step_id: str) -> list[dict[str, Any]]:
    """The step's outcomes, each with its detail: `done` and the enrollment, or `skipped` and why."""
    return [{"outcome": h["outcome"], **h["detail"]} for h in state["history"] if h["step_id"] == step_id]


async def ended(stack: Stack, enrollment_id: str) -> dict[str, Any]:
    """Its state once it ended and its row says so (what the next entry reads).
    Polled, not awaited as a result: that would let the server's clock skip
    past the waits of other enrollments in the test."""
    state = await stack.until(enrollment_id, lambda s: s["status"] != "running")
    for _ in range(300):
        with Session(stack.engine) as session:
            row = session.get(EnrollmentRow, enrollment_id)
            if row is not None and row.status != "running":
                return state
        await asyncio.sleep(0.05)
    raise AssertionError(f"{enrollment_id}'s row still reads running")


async def test_start_automation_enters_the_other_automation_under_its_rules(stack: Stack) -> None:
    held = await stack.automation([wait("hold", "P1D")], id="held", reentry="never")
    paused = await stack.automation([wait("hold", "P1D")], id="paused")
    archived = await stack.automation([wait("hold", "P1D")], id="archived")
    await stack.post(f"/automations/{paused}/pause")
    await stack.http.delete(f"/automations/{archived}")
    starter = await stack.automation(
        [
            start("held", held),
            start("paused", paused),
            start("archived", archived),
            start("missing", "nowhere"),
        ],
        id="starter",
    )
    contact = await stack.contact()

    first = await stack.enroll(starter, contact)
    state = await ended(stack, first)
    assert state["status"] == "completed"
    assert entries(state, "held") == [{"outcome": "done", "enrollment_id": f"held.{contact}.1"}]
    assert entries(state, "paused") == [{"outcome": "skipped", "reason": "automation paused"}]
    assert entries(state, "archived") == [{"outcome": "skipped", "reason": "archived"}]
    assert entries(state, "missing") == [{"outcome": "skipped", "reason": "automation not found"}]
    other = await stack.at(f"held.{contact}.1", "hold")
    assert other["entered_by"] == {"automation": starter, "enrollment_id": first}
    (listed,) = [e for e in await stack.get(f"/contacts/{contact}/enrollments") if e["automation_id"] == held]
    assert listed["entered_by"] == {"automation": starter, "enrollment_id": first}

    # Still in `held`: the second entry is refused.
    second = await stack.enroll(starter, contact)
    assert entries(await ended(stack, second), "held") == [
        {"outcome": "skipped", "reason": "already enrolled"}
    ]

    # Out of it, but `held` has reentry never.
    await stack.skip(DAY * 2)
    await ended(stack, f"held.{contact}.1")
    third = await stack.enroll(starter, contact)
    assert entries(await ended(stack, third), "held") == [{"outcome": "skipped", "reason": "reentry never"}]


async def test_each_step_run_starts_one_enrollment_whatever_its_retries(stack: Stack) -> None:
    """A retried activity finds its step run's outcome; after a crash between
    starting the enrollment and recording it, it finds the enrollment by what
    started it, and starts no second one (re-entry would let it)."""
    quick = await stack.automation([{"id": "tag", "type": "add_tag", "tag": "t"}], id="quick")
    contact = await stack.contact()
    services = Services(stack.engine, stack.client, stack.task_queue)
    run = FromStep(
        key="starter.x.1/go/1",
        automation_id="starter",
        enrollment_id="starter.x.1",
        step_id="go",
        contact_id=contact,
        target=quick,
    )
    first = await other_automations.enter(services, run)
    assert first.enrollment_id == f"quick.{contact}.1"
    await ended(stack, f"quick.{contact}.1")
    # Retried once it ended (re-entry would let the contact in again): the same answer.
    assert await other_automations.enter(services, run) == first

    # The crash: the step run claimed, the enrollment started, nothing recorded after.
    crashed = replace(run, key="starter.x.1/go/2")
    with Session(stack.engine) as session:
        session.add(StepRun(key=crashed.key, result={"pending": True, "before_seq": 1}))
        session.commit()
    by = ByAutomation(automation="starter", enrollment_id="starter.x.1")
    started = await enrollments.start(services, quick, contact, entered_by=by)
    await ended(stack, started.enrollment_id)
    outcome = await other_automations.enter(services, crashed)
    assert outcome.enrollment_id == started.enrollment_id == f"quick.{contact}.2"
    with Session(stack.engine) as session:
        rows = session.exec(select(EnrollmentRow.id).where(EnrollmentRow.automation_id == quick)).all()
    assert sorted(rows) == [f"quick.{contact}.1", f"quick.{contact}.2"]


async def test_remove_from_automation_ends_the_contacts_enrollment_there(stack: Stack) -> None:
    nurture = await stack.automation([wait("hold", "P30D")], id="nurture")
    stopper = await stack.automation([remove("out", nurture)], id="stopper")
    contact = await stack.contact()
    inside = await stack.enroll(nurture, contact)
    await stack.at(inside, "hold")

    first = await stack.enroll(stopper, contact)
    assert entries(await ended(stack, first), "out") == [{"outcome": "done", "enrollment_id": inside}]
    removed = await ended(stack, inside)
    assert removed["status"] == "removed"
    assert removed["end_reason"] == "removed by automation 'stopper', step 'out'"
    assert removed["history"][-1]["detail"] == {
        "reason": "removed by automation 'stopper', step 'out'",
        "status": "removed",
    }

    second = await stack.enroll(stopper, contact)
    assert entries(await ended(stack, second), "out") == [{"outcome": "skipped", "reason": "not enrolled"}]

    # A retry of the first step run finds its outcome: done, not "not enrolled".
    services = Services(stack.engine, stack.client, stack.task_queue)
    retried = FromStep(
        key=f"{first}/out/1",
        automation_id=stopper,
        enrollment_id=first,
        step_id="out",
        contact_id=contact,
        target=nurture,
    )
    assert (await other_automations.leave(services, retried)).enrollment_id == inside
    # Through the API the reason stays the API's.
    again = await stack.enroll(nurture, contact)
    await stack.at(again, "hold")
    response = await stack.http.delete(f"/enrollments/{again}")
    assert response.status_code == 200, response.text
    assert response.json()["end_reason"] == "removed through the API"


async def test_a_definition_naming_itself_is_refused(stack: Stack) -> None:
    for step in (start("again", "selfish"), remove("out", "selfish")):
        body = {"id": "selfish", "name": "test", "steps": [wait("pause", "P1D"), step]}
        response = await stack.http.post("/automations", json=body)
        assert response.status_code == 422, response.text
        (problem,) = response.json()["detail"]
        assert problem["loc"] == ["body", "steps", 1, "automation"]
        assert problem["msg"] == f"step '{step['id']}': names this automation, 'selfish', itself"
    await stack.automation([wait("pause", "P1D")], id="selfish")
    body = {"name": "test", "steps": [start("again", "selfish")]}
    response = await stack.http.put("/automations/selfish", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "steps", 0, "automation"]


async def test_automations_that_start_each_other_stop_at_the_contacts_loop_budget(stack: Stack) -> None:
    """A starts B, B starts A: each turn is a new enrollment, which no step's
    own loop budget sees. The contact's entries by automations are counted:
    past LOOP_BUDGET within LOOP_WINDOW the start is skipped, and the loop ends."""
    ping = await stack.automation([wait("pause", "PT10S"), start("go", "pong")], id="ping")
    pong = await stack.automation([wait("pause", "PT10S"), start("go", ping)], id="pong")
    contact = await stack.contact()
    current = await stack.enroll(ping, contact)
    turns = 0
    while True:
        await stack.at(current, "pause")
        await stack.skip(timedelta(seconds=10))
        state = await ended(stack, current)
        (go,) = entries(state, "go")
        if go["outcome"] == "skipped":
            break
        turns += 1
        assert turns <= LOOP_BUDGET, "the loop went on past the budget"
        current = go["enrollment_id"]
    assert go == {"outcome": "skipped", "reason": LOOP_REASON}
    assert turns == LOOP_BUDGET
    assert state["status"] == "completed"
    started = [
        e for e in await stack.get(f"/contacts/{contact}/enrollments") if "automation" in e["entered_by"]
    ]
    assert len(started) == LOOP_BUDGET
    assert {e["automation_id"] for e in started} == {ping, pong}


def test_the_loop_budget_across_automations_is_a_steps_own() -> None:
    assert (LOOP_BUDGET, LOOP_WINDOW) == (interpreter.LOOP_BUDGET, interpreter.LOOP_WINDOW)
