"""End to end on the real Temporal dev server, started exactly as `make run`
starts it (devstack), with the worker and the API as their own processes."""

import asyncio
import json
import random
import signal
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlmodel import Session, col, func, select
from temporalio.api.enums.v1 import EventType
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import Client

from devstack import DevStack, binary, free_port
from shared.domain.events import Event
from shared.domain.limits import CARRIED_STATE_BYTES
from shared.services.events import EventBus
from shared.services.reconcile import Sweep
from shared.store.db import Contact, EnrollmentRow, HeldSend, Message, make_engine
from shared.temporal import connect

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def devstack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    home: Path = tmp_path_factory.mktemp("goalflow")
    stack = DevStack(home=home, temporal_port=free_port(), api_port=free_port(), headless=True)
    try:
        yield stack.start()
    finally:
        stack.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def api(devstack: DevStack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=devstack.api_url, timeout=30) as client:
        yield client


@pytest_asyncio.fixture(loop_scope="session")
async def temporal(devstack: DevStack) -> Client:
    return await connect(devstack.temporal_address)


async def post(api: httpx.AsyncClient, url: str, body: Any, expect: int) -> Any:
    response = await api.post(url, json=body)
    assert response.status_code == expect, response.text
    return response.json()


async def until(api: httpx.AsyncClient, enrollment: str, check: Any, within: float = 60) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        response = await api.get(f"/enrollments/{enrollment}")
        if response.status_code == 200 and check(state := response.json()):
            return state
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not reached: {response.status_code} {response.text[:2000]}")
        await asyncio.sleep(0.2)


NURTURE = {
    "name": "Nurture until purchase",
    "steps": [
        {"id": "welcome", "type": "send_email", "subject": "Hi {{ contact.first_name }}", "body": "Welcome"},
        {"id": "pause", "type": "wait", "duration": "P3D"},
        {"id": "followup", "type": "send_email", "subject": "Still there?", "body": "..."},
        {
            "id": "purchased",
            "type": "goal",
            "criteria": [{"type": "tag.added", "tag": "product purchased"}],
            "if_unmet": "wait",
            "timeout": "P30D",
            "on_timeout": "end",
        },
        {"id": "thanks", "type": "add_tag", "tag": "customer"},
    ],
}


async def test_define_enroll_post_event_and_see_the_jump(api: httpx.AsyncClient, temporal: Client) -> None:
    automation = (await post(api, "/automations", NURTURE, 201))["id"]
    contact = (await post(api, "/contacts", {"email": "ada@example.com", "first_name": "Ada"}, 201))["id"]
    enrollment = (await post(api, f"/automations/{automation}/enrollments", {"contact_id": contact}, 201))[
        "enrollment_id"
    ]
    await until(api, enrollment, lambda s: s["current_step"] == "pause")
    handle = temporal.get_workflow_handle(enrollment)
    # What an operator sees in the UI: search attributes and the one-line summary.
    found = await _visible(temporal, f"AutomationId = '{automation}' AND CurrentStep = 'pause'")
    assert found == [enrollment]
    metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    assert metadata.current_details.startswith("at pause, waiting until ")
    assert metadata.current_details.endswith("; goals met: none")
    # The timeline names each step's activity and timer.
    timeline = [
        (EventType.Name(e.event_type), json.loads(e.user_metadata.summary.data))
        for e in (await handle.fetch_history()).events
        if e.user_metadata.HasField("summary")
    ]
    # Sends talk to the network: a regular activity, named after its step.
    assert ("EVENT_TYPE_ACTIVITY_TASK_SCHEDULED", "send_email welcome") in timeline
    assert ("EVENT_TYPE_TIMER_STARTED", "pause (3d)") in timeline

    await post(api, f"/contacts/{contact}/tags", {"tag": "product purchased"}, 200)
    state = await until(api, enrollment, lambda s: s["status"] == "completed")
    assert state["goals_met"] == ["purchased"]
    move = next(h for h in state["history"] if h["outcome"] == "goal_met")
    assert move["detail"]["from_step"] == "pause"
    assert await _visible(temporal, f"ContactId = '{contact}' AND GoalsMet = 'purchased'") == [enrollment]
    assert "customer" in (await api.get(f"/contacts/{contact}")).json()["tags"]


async def _visible(temporal: Client, query: str) -> list[str]:
    """Visibility is eventually consistent: poll the list for a few seconds."""
    for _ in range(100):
        found = [w.id async for w in temporal.list_workflows(query)]
        if found:
            return found
        await asyncio.sleep(0.1)
    return []


CRASH_STEPS = [
    {"id": "one", "type": "send_email", "subject": "1", "body": "b"},
    {"id": "tick", "type": "wait", "duration": "PT2S"},
    {"id": "two", "type": "send_email", "subject": "2", "body": "b"},
    {"id": "tock", "type": "wait", "duration": "PT1S"},
    {"id": "three", "type": "send_email", "subject": "3", "body": "b"},
    {
        "id": "clicked",
        "type": "goal",
        "criteria": [{"type": "link.clicked", "links": ["lnk_go"]}],
        "if_unmet": "wait",
    },
    {"id": "four", "type": "send_email", "subject": "4", "body": "b"},
]


async def enroll_many(
    api: httpx.AsyncClient, steps: list[dict[str, Any]], count: int
) -> tuple[list[str], list[str]]:
    automation = (await post(api, "/automations", {"name": "crash", "steps": steps}, 201))["id"]
    contacts = [
        (await post(api, "/contacts", {"email": f"c{i}@example.com", "first_name": f"C{i}"}, 201))["id"]
        for i in range(count)
    ]
    enrollments = []
    for contact in contacts:
        body = {"contact_id": contact}
        enrollments.append(
            (await post(api, f"/automations/{automation}/enrollments", body, 201))["enrollment_id"]
        )
    return contacts, enrollments


def messages_per_step(devstack: DevStack, enrollments: list[str]) -> dict[tuple[str, str], int]:
    engine = make_engine(devstack.env()["GOALFLOW_DATABASE_URL"])
    with Session(engine) as session:
        rows = session.exec(
            select(Message.enrollment_id, Message.step_id, func.count())
            .where(col(Message.enrollment_id).in_(enrollments))
            .group_by(Message.enrollment_id, Message.step_id)
        ).all()
    engine.dispose()
    return {(enrollment, step): count for enrollment, step, count in rows}


async def test_kill_9_of_the_worker_at_a_random_moment_loses_nothing_and_repeats_nothing(
    api: httpx.AsyncClient, devstack: DevStack
) -> None:
    moment = random.Random(2026).uniform(0.5, 3.0)
    enrolling = asyncio.create_task(enroll_many(api, CRASH_STEPS, 200))
    await asyncio.sleep(moment)
    devstack.stop("worker", kill=True)
    contacts, enrollments = await enrolling
    # Events posted while no worker runs are kept by Temporal until it is back.
    for contact in contacts:
        event = {
            "id": f"ev_{contact}",
            "contact_id": contact,
            "type": "link.clicked",
            "data": {"link_id": "lnk_go"},
        }
        await post(api, "/events", event, 202)
    devstack.start_worker()
    states = []
    for enrollment in enrollments:
        state = await until(api, enrollment, lambda s: s["status"] == "completed", within=180)
        assert state["goals_met"] == ["clicked"] and state["events_received"] == 1
        # The goal pulls a contact past whatever lay between it and the goal; `four` always runs.
        assert "four" in {m["step_id"] for m in state["messages"]}
        states.append(state)
    sent = messages_per_step(devstack, enrollments)
    assert set(sent.values()) == {1}, {k: v for k, v in sent.items() if v != 1}
    assert set(sent) == {(s["enrollment_id"], m["step_id"]) for s in states for m in s["messages"]}


async def test_a_dev_server_restart_keeps_timers_and_goals(
    api: httpx.AsyncClient, devstack: DevStack
) -> None:
    steps = [
        {"id": "pause", "type": "wait", "duration": "PT4S"},
        {"id": "after_pause", "type": "send_email", "subject": "timer fired", "body": "b"},
        {
            "id": "bought",
            "type": "goal",
            "criteria": [{"type": "tag.added", "tag": "bought"}],
            "if_unmet": "wait",
        },
        {"id": "thanks", "type": "send_email", "subject": "thanks", "body": "b"},
    ]
    contacts, enrollments = await enroll_many(api, steps, 5)
    for enrollment in enrollments:
        await until(api, enrollment, lambda s: s["current_step"] == "pause")
    devstack.stop("temporal")
    await asyncio.sleep(5)  # The timers fall due while the server is down.
    devstack.start_temporal()
    for enrollment in enrollments:
        await until(api, enrollment, lambda s: s["current_step"] == "bought", within=120)
    for contact in contacts:
        await post(api, f"/contacts/{contact}/tags", {"tag": "bought"}, 200)
    for enrollment in enrollments:
        state = await until(api, enrollment, lambda s: s["status"] == "completed")
        assert [m["step_id"] for m in state["messages"]] == ["after_pause", "thanks"]


async def test_an_api_crash_between_storing_and_signalling_delivers_on_retry_once(
    api: httpx.AsyncClient, devstack: DevStack
) -> None:
    steps = [
        {
            "id": "seen",
            "type": "wait_for_event",
            "timeout": "P1D",
            "criteria": [{"type": "custom", "name": "x"}],
        }
    ]
    (contact,), (enrollment,) = await enroll_many(api, steps, 1)
    await until(api, enrollment, lambda s: s["current_step"] == "seen")
    event = {"id": f"ev_{uuid.uuid4().hex}", "contact_id": contact, "type": "custom", "data": {"name": "x"}}
    # The API stores the event, then hangs signalling.
    devstack.processes["temporal"].send_signal(signal.SIGSTOP)
    try:
        with pytest.raises(httpx.ReadTimeout):
            await api.post("/events", json=event, timeout=3)
        devstack.stop("api", kill=True)
    finally:
        # Killed while stopped: the dead API's signal, unread in the server's socket,
        # goes with it. Resumed instead, the server could still take it in.
        devstack.stop("temporal", kill=True)
    devstack.start_temporal()
    devstack.start_api()
    retry = await api.post("/events", json=event)  # The forwarder retries with the same id.
    assert retry.status_code == 200 and retry.json()["delivered_to"] == [enrollment]
    state = await until(api, enrollment, lambda s: s["status"] == "completed")
    assert state["events_received"] == 1
    assert [h["outcome"] for h in state["history"] if h["step_id"] == "seen"] == ["waiting", "event_matched"]


async def test_trigger_events_posted_while_the_worker_is_down_start_their_enrollments_once_it_is_back(
    api: httpx.AsyncClient, devstack: DevStack, temporal: Client
) -> None:
    """One event posted to the API while no worker runs; one the API stored and
    then died before firing (its firing written with the event, never
    evaluated): the restarted API fires it. Each contact enters once."""
    body = {
        "name": "Welcome on signup",
        "steps": [
            {"id": "welcome", "type": "send_email", "subject": "Welcome", "body": "b"},
            {"id": "hold", "type": "wait", "duration": "P1D"},
        ],
        "triggers": [{"type": "event", "name": "signup"}],
    }
    automation = (await post(api, "/automations", body, 201))["id"]
    posted, stored = [
        (await post(api, "/contacts", {"email": f"{n}@example.com", "first_name": n}, 201))["id"]
        for n in ("posted", "stored")
    ]
    events = {
        c: {"id": f"ev_{uuid.uuid4().hex}", "contact_id": c, "type": "custom", "data": {"name": "signup"}}
        for c in (posted, stored)
    }
    devstack.stop("worker", kill=True)
    await post(api, "/events", events[posted], 202)
    await post(api, "/events", events[posted], 200)  # The forwarder's retry.
    devstack.stop("api", kill=True)
    engine = make_engine(devstack.env()["GOALFLOW_DATABASE_URL"])
    await EventBus(engine, temporal).publish(Event.model_validate(events[stored]))
    engine.dispose()
    devstack.start_api()
    devstack.start_worker()
    for contact in (posted, stored):
        (entered,) = (await api.get(f"/contacts/{contact}/enrollments")).json()
        assert entered["automation_id"] == automation
        state = await until(api, entered["enrollment_id"], lambda s: s["current_step"] == "hold")
        assert [m["step_id"] for m in state["messages"]] == ["welcome"]
        assert state["entered_by"] == {"trigger": 0, "event_id": events[contact]["id"]}


async def test_a_storm_of_10000_events_loses_none_and_history_stays_bounded(
    api: httpx.AsyncClient, temporal: Client
) -> None:
    steps = [
        {"id": "hold", "type": "goal", "criteria": [{"type": "custom", "name": "buy"}], "if_unmet": "wait"}
    ]
    automation = (await post(api, "/automations", {"name": "storm", "steps": steps}, 201))["id"]
    contact = (await post(api, "/contacts", {"email": "storm@example.com", "first_name": "Storm"}, 201))["id"]
    enrollment = (await post(api, f"/automations/{automation}/enrollments", {"contact_id": contact}, 201))[
        "enrollment_id"
    ]
    total = 10_000
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(total):
        queue.put_nowait(i)

    async def sender() -> None:
        while not queue.empty():
            i = queue.get_nowait()
            body = {
                "id": f"storm-{enrollment}-{i}",
                "contact_id": contact,
                "type": "custom",
                "data": {"name": "ping", "value": i},
            }
            await post(api, "/events", body, 202)

    await asyncio.gather(*(sender() for _ in range(16)))
    buy = {"id": f"storm-{enrollment}-buy", "contact_id": contact, "type": "custom", "data": {"name": "buy"}}
    await post(api, "/events", buy, 202)
    state = await until(api, enrollment, lambda s: s["status"] == "completed", within=300)
    assert state["events_received"] == total + 1
    assert state["goals_met"] == ["hold"]
    runs = [run.run_id async for run in temporal.list_workflows(f"WorkflowId = '{enrollment}'")]
    assert len(runs) > 1, "the enrollment never continued as new"
    lengths = [
        (await temporal.get_workflow_handle(enrollment, run_id=r).describe()).history_length for r in runs
    ]
    assert max(lengths) <= 5000, lengths
    # What each run started with: the plan, and the state the one before carried over.
    carried = [await input_size(temporal, enrollment, r) for r in runs]
    assert max(carried) <= CARRIED_STATE_BYTES, carried


async def input_size(temporal: Client, workflow_id: str, run_id: str) -> int:
    events = temporal.get_workflow_handle(workflow_id, run_id=run_id).fetch_history_events(page_size=1)
    async for started in events:
        return sum(len(p.data) for p in started.workflow_execution_started_event_attributes.input.payloads)
    raise AssertionError(f"no history for {workflow_id} {run_id}")


# ---- what operators do in the Temporal UI or CLI ---------------------------

# Welcome email, then a wait of three days.
WAITING = {"name": "Operators", "steps": NURTURE["steps"][:3]}


def temporal_cli(devstack: DevStack, *args: str) -> None:
    """`temporal workflow …` from .venv/bin, as an operator runs it."""
    command = [binary("temporal"), "workflow", *args, "--address", devstack.temporal_address]
    subprocess.run(command, check=True, capture_output=True, timeout=60)


async def waiting_enrollments(api: httpx.AsyncClient, count: int) -> tuple[str, list[str], list[str]]:
    automation = (await post(api, "/automations", WAITING, 201))["id"]
    contacts, enrollments = [], []
    for _ in range(count):
        contact = (await post(api, "/contacts", {"email": "op@example.com", "first_name": "Op"}, 201))["id"]
        body = {"contact_id": contact}
        enrollment = (await post(api, f"/automations/{automation}/enrollments", body, 201))["enrollment_id"]
        await until(api, enrollment, lambda s: s["current_step"] == "pause")
        contacts.append(contact)
        enrollments.append(enrollment)
    return automation, contacts, enrollments


async def test_a_cancellation_in_temporal_ends_the_enrollment_as_removed(
    api: httpx.AsyncClient, devstack: DevStack
) -> None:
    automation, (contact,), (enrollment,) = await waiting_enrollments(api, 1)
    temporal_cli(devstack, "cancel", "--workflow-id", enrollment)
    state = await until(api, enrollment, lambda s: s["status"] != "running")
    assert (state["status"], state["end_reason"]) == ("removed", "cancelled in Temporal")
    steps = [(h["step_id"], h["outcome"]) for h in state["history"]]
    assert steps == [("welcome", "done"), ("pause", "waiting"), ("pause", "cancelled"), ("end", "ended")]
    listed = (await api.get(f"/contacts/{contact}/enrollments")).json()
    assert [e["status"] for e in listed] == ["removed"]
    body = {"contact_id": contact}
    again = (await post(api, f"/automations/{automation}/enrollments", body, 201))["enrollment_id"]
    assert again.endswith(".2")


async def test_a_termination_in_temporal_is_noticed_on_read_and_by_the_sweep(
    api: httpx.AsyncClient, devstack: DevStack, temporal: Client
) -> None:
    automation, contacts, (read, swept) = await waiting_enrollments(api, 2)
    temporal_cli(devstack, "terminate", "--workflow-id", read, "--reason", "bad import")
    state = (await api.get(f"/enrollments/{read}")).json()
    assert (state["status"], state["end_reason"]) == ("removed", "terminated in Temporal: bad import")
    assert [(h["step_id"], h["outcome"]) for h in state["history"]][-2:] == [
        ("pause", "terminated"), ("end", "ended"),
    ]  # fmt: skip

    # Nobody reads the other one: the worker's sweep finds its row still marked running.
    temporal_cli(devstack, "terminate", "--workflow-id", swept, "--reason", "cleanup")
    engine = make_engine(devstack.env()["GOALFLOW_DATABASE_URL"])
    sweep = Sweep(temporal, engine, devstack.task_queue)
    for _ in range(100):  # Visibility trails the termination a little.
        if await sweep.run_once():
            break
        await asyncio.sleep(0.1)
    with Session(engine) as session:
        row = session.get(EnrollmentRow, swept)
        assert row is not None and (row.status, row.end_reason) == (
            "removed",
            "terminated in Temporal: cleanup",
        )
    engine.dispose()
    event = {
        "id": f"ev_{uuid.uuid4().hex}",
        "contact_id": contacts[1],
        "type": "custom",
        "data": {"name": "x"},
    }
    assert (await post(api, "/events", event, 202))["delivered_to"] == []
    for contact in contacts:
        await post(api, f"/automations/{automation}/enrollments", {"contact_id": contact}, 201)


async def test_a_reset_sends_nothing_twice_and_the_enrollment_goes_on(
    api: httpx.AsyncClient, devstack: DevStack, temporal: Client
) -> None:
    _, (contact,), (enrollment,) = await waiting_enrollments(api, 1)
    first_run = (await temporal.get_workflow_handle(enrollment).describe()).run_id
    temporal_cli(
        devstack, "reset", "--workflow-id", enrollment, "--type", "FirstWorkflowTask", "--reason", "replay it"
    )
    handle = temporal.get_workflow_handle(enrollment)
    for _ in range(100):
        if (await handle.describe()).run_id != first_run:
            break
        await asyncio.sleep(0.1)
    state = await until(api, enrollment, lambda s: s["current_step"] == "pause" and s["messages"])
    assert [m["step_id"] for m in state["messages"]] == ["welcome"]
    assert messages_per_step(devstack, [enrollment]) == {(enrollment, "welcome"): 1}
    # The run the reset terminated is not the enrollment's end, once the sweep sees it.
    terminated = f"WorkflowId = '{enrollment}' AND ExecutionStatus = 'Terminated'"
    assert await _visible(temporal, terminated) == [enrollment]
    engine = make_engine(devstack.env()["GOALFLOW_DATABASE_URL"])
    assert await Sweep(temporal, engine, devstack.task_queue).run_once() == 0
    engine.dispose()
    assert (await api.get(f"/enrollments/{enrollment}")).json()["status"] == "running"
    listed = (await api.get(f"/contacts/{contact}/enrollments")).json()
    assert [e["status"] for e in listed] == ["running"]


async def test_an_enrollment_gone_from_temporal_reads_removed_and_lets_the_contact_back_in(
    api: httpx.AsyncClient, devstack: DevStack
) -> None:
    """Its workflow's history deleted (past the namespace's retention, or a new
    server): the enrollment is an ordinary end, not a lasting 409 or 503."""
    automation, _, (enrollment,) = await waiting_enrollments(api, 1)
    contact = (await post(api, "/contacts", {"email": "gone@example.com", "first_name": "Gone"}, 201))["id"]
    gone = f"{automation}.{contact}.1"
    engine = make_engine(devstack.env()["GOALFLOW_DATABASE_URL"])
    with Session(engine) as session:  # A row whose workflow Temporal does not have.
        row = session.get(EnrollmentRow, enrollment)
        assert row is not None
        session.add(EnrollmentRow(**{**row.model_dump(), "id": gone, "contact_id": contact}))
        session.commit()
    engine.dispose()
    again = await post(api, f"/automations/{automation}/enrollments", {"contact_id": contact}, 201)
    assert again["enrollment_id"] == f"{automation}.{contact}.2"
    state = (await api.get(f"/enrollments/{gone}")).json()
    assert (state["status"], state["end_reason"], state["history"][-1]["outcome"]) == (
        "removed", "gone from Temporal", "ended",
    )  # fmt: skip


# ---- pause and resume -------------------------------------------------------

HELD_SENDS = {
    "name": "Held sends",
    "steps": [
        {"id": "go", "type": "goal", "criteria": [{"type": "tag.added", "tag": "go"}], "if_unmet": "wait"},
        {"id": "offer", "type": "send_email", "subject": "Our offer", "body": "b"},
        {"id": "text", "type": "send_sms", "body": "Our offer, {{ contact.first_name }}"},
    ],
}


async def held_enrollments(api: httpx.AsyncClient, count: int) -> tuple[str, list[str]]:
    """An automation of HELD_SENDS, paused with `count` contacts held at its first send."""
    automation = (await post(api, "/automations", HELD_SENDS, 201))["id"]
    enrollments, contacts = [], []
    for i in range(count):
        body = {"email": f"held{i}@example.com", "phone": f"+1415555{i:04d}", "first_name": f"H{i}"}
        contact = (await post(api, "/contacts", body, 201))["id"]
        enrollment = await post(api, f"/automations/{automation}/enrollments", {"contact_id": contact}, 201)
        enrollments.append(enrollment["enrollment_id"])
        contacts.append(contact)
    for enrollment in enrollments:
        await until(api, enrollment, lambda s: s["current_step"] == "go")
    assert (await post(api, f"/automations/{automation}/pause", None, 200))["paused"] is True
    refused = await api.post(f"/automations/{automation}/enrollments", json={"contact_id": contacts[0]})
    assert refused.status_code == 409 and "is paused" in refused.json()["detail"]
    for contact in contacts:
        await post(api, f"/contacts/{contact}/tags", {"tag": "go"}, 200)
    for enrollment in enrollments:
        state = await until(api, enrollment, lambda s: s["history"][-1]["outcome"] == "held")
        assert state["current_step"] == "offer" and state["history"][-1]["detail"] == {
            "reason": "automation paused"
        }
    return automation, enrollments


async def test_pause_and_resume_with_held_sends_through_a_killed_worker_and_a_resume_cut_short(
    api: httpx.AsyncClient, devstack: DevStack
) -> None:
    """Sends held by a pause go out once each after the resume, though the worker
    was killed (kill -9) while they were held and resumed without it; and
    though the API died in the middle of a resume's signals (the worker's sweep
    finishes it)."""
    resumed, resumed_held = await held_enrollments(api, 10)
    cut_short, cut_short_held = await held_enrollments(api, 10)
    assert messages_per_step(devstack, resumed_held + cut_short_held) == {}
    devstack.stop("worker", kill=True)

    # Resumed while no worker runs: Temporal keeps the signals until one is back.
    assert (await post(api, f"/automations/{resumed}/resume", {}, 200))["paused"] is False
    # The API commits the resume, then hangs signalling, and dies.
    devstack.processes["temporal"].send_signal(signal.SIGSTOP)
    try:
        with pytest.raises(httpx.ReadTimeout):
            await api.post(f"/automations/{cut_short}/resume", json={}, timeout=3)
        devstack.stop("api", kill=True)
    finally:
        devstack.stop("temporal", kill=True)  # Killed while stopped: nothing it had half read counts.
    devstack.start_temporal()
    devstack.start_api()
    assert (await api.get(f"/automations/{cut_short}")).json()["paused"] is False
    # Temporal took the first resume's signals; the second's are left to the worker's sweep.
    assert held_in_database(devstack) == sorted(cut_short_held)
    devstack.start_worker()

    for enrollment in resumed_held + cut_short_held:
        state = await until(api, enrollment, lambda s: s["status"] == "completed", within=120)
        outcomes = [(h["step_id"], h["outcome"]) for h in state["history"]]
        assert outcomes[-4:] == [("offer", "held"), ("offer", "done"), ("text", "done"), ("end", "ended")]
    sent = messages_per_step(devstack, resumed_held + cut_short_held)
    assert sent == {(e, step): 1 for e in resumed_held + cut_short_held for step in ("offer", "text")}
    assert held_in_database(devstack) == []


def held_in_database(devstack: DevStack) -> list[str]:
    engine = make_engine(devstack.env()["GOALFLOW_DATABASE_URL"])
    with Session(engine) as session:
        held = sorted(session.exec(select(HeldSend.enrollment_id)))
    engine.dispose()
    return held


async def bulk_until(api: httpx.AsyncClient, bulk_id: str, check: Any, within: float = 60) -> dict[str, Any]:
    """Poll the bulk enrollment until `check` holds; fail with its last view."""
    deadline = asyncio.get_running_loop().time() + within
    while not check(view := (await api.get(f"/bulk-enrollments/{bulk_id}")).json()):
        assert asyncio.get_running_loop().time() < deadline, view
        await asyncio.sleep(0.1)
    return view  # type: ignore[no-any-return]


async def test_a_bulk_enrollment_of_2000_through_a_kill_9_of_the_worker_enrolls_each_contact_once(
    api: httpx.AsyncClient, devstack: DevStack, temporal: Client
) -> None:
    """The worker is killed in the middle of a page; the page is done again on
    the restarted worker: every contact has one enrollment, and the counts add up."""
    steps = [{"id": "hold", "type": "wait", "duration": "P1D"}]
    automation = (await post(api, "/automations", {"name": "bulk", "steps": steps}, 201))["id"]
    engine = make_engine(devstack.env()["GOALFLOW_DATABASE_URL"])
    tag = f"bulk-{uuid.uuid4().hex[:6]}"
    contacts = [f"{tag}-{i:04d}" for i in range(2000)]
    with Session(engine) as session:
        now = datetime.now(UTC)
        session.add_all(Contact(id=c, email=f"{c}@example.com", tags=[tag], created_at=now) for c in contacts)
        session.commit()
    for contact in contacts[:5]:  # In it already: skipped.
        await post(api, f"/automations/{automation}/enrollments", {"contact_id": contact}, 201)
    bulk_id = (
        await post(api, f"/automations/{automation}/bulk-enrollments", {"segment": {"tag": tag}}, 202)
    )["bulk_id"]
    await bulk_until(api, bulk_id, lambda v: v["matched"] >= 500)
    devstack.stop("worker", kill=True)
    devstack.start_worker()
    view = await bulk_until(api, bulk_id, lambda v: v["status"] == "completed", within=240)
    assert (view["matched"], view["enrolled"], view["skipped"], view["failed"]) == (
        2000,
        1995,
        {"already enrolled": 5},
        0,
    )
    with Session(engine) as session:
        rows = session.exec(
            select(EnrollmentRow.contact_id, EnrollmentRow.entered_by).where(
                EnrollmentRow.automation_id == automation
            )
        ).all()
    engine.dispose()
    assert sorted(c for c, _ in rows) == contacts  # One each.
    assert sum(1 for _, by in rows if by == {"bulk_id": bulk_id}) == 1995
    started = await temporal.count_workflows(f'AutomationId = "{automation}"')
    assert started.count == 2000
    # Its enrollments' tasks wait behind live contacts' (priority 3, the default).
    for contact, priority in ((contacts[0], 0), (contacts[-1], 5)):
        described = await temporal.get_workflow_handle(f"{automation}.{contact}.1").describe()
        assert described.raw_description.workflow_execution_info.priority.priority_key == priority
    # Its progress is on its workflow, for the Temporal UI.
    handle = temporal.get_workflow_handle(bulk_id)
    metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    assert metadata.current_details == ("**completed** · 2000 matched: 1995 enrolled, 5 skipped, 0 failed")
