"""CRM (issue 14): users, deals and tasks through the API, and the steps
`create_deal`, `update_deal`, `create_task`, `assign_user`, on the
time-skipping server and each database."""

import asyncio
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from temporalio.testing import ActivityEnvironment

from shared.services.events import EventBus
from shared.store import users as user_store
from shared.store.db import Contact, EventRow, Rotation, utcnow
from tests.builders import DAY, goal, wait
from tests.conftest import Stack
from tests.test_notify import mail_stack  # noqa: F401  (the fixture)
from tests.test_smtp import Mailbox, mailbox  # noqa: F401  (the fixture)
from worker.activities.base import Deps
from worker.activities.deals import DealActivities
from worker.activities.owners import OwnerActivities, _assign
from worker.outbox import Outbox
from worker.steps.assign_user import AssignInput
from worker.steps.create_deal import DealInput
from worker.steps.update_deal import StageInput

pytestmark = pytest.mark.workflow

WON = {"type": "deal.stage", "pipeline": "sales", "stages": ["won"]}


async def users(stack: Stack, *ids: str) -> None:
    for user_id in ids:
        body = {"id": user_id, "name": user_id.title(), "email": f"{user_id}@acme.test"}
        await stack.post("/users", body, expect=201)


def entries(state: dict[str, Any], step_id: str) -> list[tuple[str, dict[str, Any]]]:
    return [(h["outcome"], h["detail"]) for h in state["history"] if h["step_id"] == step_id]


async def completed(stack: Stack, automation: str, contact: str) -> dict[str, Any]:
    return await stack.until(await stack.enroll(automation, contact), lambda s: s["status"] == "completed")


async def test_users_deals_and_tasks_through_the_api(stack: Stack) -> None:
    sam = await stack.post("/users", {"id": "sam", "name": "Sam", "email": "sam@acme.test"}, expect=201)
    assert (sam["id"], sam["name"], sam["email"]) == ("sam", "Sam", "sam@acme.test")
    kim = await stack.post("/users", {"name": "Kim", "email": "kim@acme.test"}, expect=201)
    assert kim["id"].startswith("usr_")
    await stack.post("/users", {"id": "sam", "name": "Sam", "email": "x@acme.test"}, expect=409)
    first = await stack.http.get("/users?limit=1")
    assert [u["id"] for u in first.json()] == ["sam"]
    rest = await stack.http.get(first.links["next"]["url"])
    assert [u["id"] for u in rest.json()] == [kim["id"]] and "next" not in rest.links
    assert await stack.get("/users/sam") == sam

    contact = await stack.contact()
    body = {"contact_id": contact, "name": "Ada's plan", "pipeline": "sales", "stage": "new", "amount": 1200,
            "owner": "sam"}  # fmt: skip
    deal = await stack.post("/deals", body, expect=201)
    assert {k: deal[k] for k in body} == body and deal["enrollment_id"] is None
    assert await stack.get(f"/deals/{deal['id']}") == deal
    assert await stack.get(f"/contacts/{contact}/deals") == [deal]

    moved = (await stack.http.patch(f"/deals/{deal['id']}", json={"stage": "won", "owner": kim["id"]})).json()
    assert (moved["stage"], moved["owner"], moved["amount"]) == ("won", kim["id"], 1200)
    priced = (await stack.http.patch(f"/deals/{deal['id']}", json={"amount": 900, "stage": "won"})).json()
    assert (priced["amount"], priced["event_id"]) == (900, None)  # Same stage: no event.
    cleared = (await stack.http.patch(f"/deals/{deal['id']}", json={"owner": None, "stage": None})).json()
    assert (cleared["owner"], cleared["stage"]) == (None, "won")
    with Session(stack.engine) as session:
        [event] = session.exec(select(EventRow).where(EventRow.type == "deal.stage_changed")).all()
    assert (event.id, event.contact_id) == (moved["event_id"], contact)
    assert event.data == {"deal_id": deal["id"], "pipeline": "sales", "from": "new", "to": "won"}

    task_in = {"contact_id": contact, "title": "Call Ada", "due_at": "2026-12-24T09:00:00+01:00",
               "assignee": "sam"}  # fmt: skip
    task = await stack.post("/tasks", task_in, expect=201)
    assert (task["status"], task["due_at"], task["completed_at"]) == ("open", "2026-12-24T08:00:00Z", None)
    done = (await stack.http.patch(f"/tasks/{task['id']}", json={"status": "done"})).json()
    assert done["status"] == "done" and done["completed_at"] is not None
    again = (await stack.http.patch(f"/tasks/{task['id']}", json={"status": "done"})).json()
    assert again == done  # Completing it twice keeps its time.
    assert await stack.get(f"/contacts/{contact}/tasks") == [done]


async def test_unknown_ids_are_404_and_bad_fields_are_422_naming_them(stack: Stack) -> None:
    contact = await stack.contact()
    await users(stack, "sam")
    deal_in = {"contact_id": contact, "name": "Plan", "pipeline": "sales", "stage": "new"}
    deal = await stack.post("/deals", deal_in, expect=201)
    http = stack.http
    not_found = [
        (await http.post("/deals", json={**deal_in, "contact_id": "nobody"}), "contact 'nobody' not found"),
        (await http.post("/deals", json={**deal_in, "owner": "ghost"}), "user 'ghost' not found"),
        (await http.get("/deals/nope"), "deal 'nope' not found"),
        (await http.patch("/deals/nope", json={"stage": "won"}), "deal 'nope' not found"),
        (await http.patch(f"/deals/{deal['id']}", json={"owner": "ghost"}), "user 'ghost' not found"),
        (await http.get("/contacts/nobody/deals"), "contact 'nobody' not found"),
        (await http.get("/contacts/nobody/tasks"), "contact 'nobody' not found"),
        (await http.post("/tasks", json={"contact_id": "nobody", "title": "t"}), "contact 'nobody' not found"),
        (await http.post("/tasks", json={"contact_id": contact, "title": "t", "assignee": "ghost"}),
         "user 'ghost' not found"),
        (await http.patch("/tasks/nope", json={"status": "done"}), "task 'nope' not found"),
        (await http.get("/users/nope"), "user 'nope' not found"),
    ]  # fmt: skip
    for response, detail in not_found:
        assert (response.status_code, response.json()["detail"]) == (404, detail)
    assert (await stack.get(f"/deals/{deal['id']}"))["owner"] is None  # The 404 changed nothing.

    invalid = [
        (await http.post("/users", json={"name": "Sam", "email": "not an address"}), ["body", "email"]),
        (await http.post("/users", json={"email": "s@acme.test"}), ["body", "name"]),
        (await http.post("/deals", json={**deal_in, "amount": -5}), ["body", "amount"]),
        (await http.patch(f"/deals/{deal['id']}", json={"amount": "10"}), ["body", "amount"]),
        (await http.post("/deals", json={k: v for k, v in deal_in.items() if k != "pipeline"}),
         ["body", "pipeline"]),
        (await http.patch(f"/deals/{deal['id']}", json={"stage": ""}), ["body", "stage"]),
        (await http.patch(f"/deals/{deal['id']}", json={"probability": 1}), ["body", "probability"]),
        (await http.post("/tasks", json={"contact_id": contact, "title": "t", "due_at": "tomorrow"}),
         ["body", "due_at"]),
        (await http.patch("/tasks/nope", json={"status": "later"}), ["body", "status"]),
    ]  # fmt: skip
    for response, loc in invalid:
        assert response.status_code == 422, response.text
        assert response.json()["detail"][0]["loc"] == loc


async def test_create_deal_and_update_deal_steps_and_a_goal_met_by_the_steps_own_event(stack: Stack) -> None:
    await users(stack, "sam")
    steps = [
        {"id": "open", "type": "create_deal", "name": "{{ contact.first_name }}'s plan", "pipeline": "sales",
         "stage": "new", "amount": 500, "owner": "sam"},
        {"id": "win", "type": "update_deal", "stage": "won"},
        goal("won", WON),
        {"id": "again", "type": "update_deal", "stage": "won"},
    ]  # fmt: skip
    contact = await stack.contact(first_name="Ada")
    enrollment = await stack.enroll(await stack.automation(steps), contact)
    state = await stack.until(enrollment, lambda s: s["status"] == "completed")
    [deal] = await stack.get(f"/contacts/{contact}/deals")
    assert (deal["name"], deal["stage"], deal["amount"], deal["owner"]) == ("Ada's plan", "won", 500, "sam")
    assert deal["enrollment_id"] == enrollment
    assert entries(state, "open") == [("done", {"deal_id": deal["id"], "name": "Ada's plan"})]
    assert entries(state, "win") == [("done", {"deal_id": deal["id"], "from": "new", "to": "won"})]
    assert entries(state, "again") == [
        ("skipped", {"reason": f"deal '{deal['id']}' is at stage 'won' already"})
    ]
    # The step's own event meets the goal, applied at once (no signal to itself).
    assert state["goals_met"] == ["won"]
    assert entries(state, "won")[0] == ("goal_met", {"event_id": f"{enrollment}/win/1/0", "from_step": "win",
                                                     "moved": True})  # fmt: skip

    lacking = [
        {"id": "move", "type": "update_deal", "stage": "won"},
        {"id": "open", "type": "create_deal", "name": "{{ contact.company }}", "pipeline": "p", "stage": "s"},
        {"id": "ghost", "type": "create_deal", "name": "Plan", "pipeline": "p", "stage": "s", "owner": "ghost"},
    ]  # fmt: skip
    state = await completed(stack, await stack.automation(lacking), contact)
    assert entries(state, "move") == [
        ("skipped", {"reason": "this enrollment created no deal (no create_deal step ran before)"})
    ]
    assert entries(state, "open") == [("skipped", {"reason": "missing merge field contact.company"})]
    assert entries(state, "ghost") == [("failed", {"error": "no user 'ghost'"})]
    assert len(await stack.get(f"/contacts/{contact}/deals")) == 1


async def test_retried_deal_steps_repeat_nothing_and_hand_back_their_event(stack: Stack) -> None:
    """A crash after a step's transaction: the retry makes no second deal, no
    second event, and answers what the first run did, its event included."""
    steps = [{"id": "open", "type": "create_deal", "name": "Plan", "pipeline": "sales", "stage": "new"}]
    automation = await stack.automation(steps)
    contact = await stack.contact()
    activities = DealActivities(
        Deps(stack.engine, EventBus(stack.engine, stack.client), Outbox(stack.engine))
    )
    run = {"enrollment_id": "en.1", "contact_id": contact, "automation_id": automation, "version": 1}
    create = DealInput(**run, key="en.1/open/1", step_id="open", digest=None, pipeline="sales", stage="new")
    move = StageInput(**run, key="en.1/win/1", step_id="win", stage="won")
    env = ActivityEnvironment()
    made, made_again = [await env.run(activities.create_deal, create) for _ in range(2)]
    moved, moved_again = [await env.run(activities.update_deal, move) for _ in range(2)]
    assert made == made_again and moved == moved_again
    [deal] = await stack.get(f"/contacts/{contact}/deals")
    assert made.detail == {"deal_id": deal["id"], "name": "Plan"} and deal["stage"] == "won"
    assert [e.id for e in moved.events] == ["en.1/win/1/0"]
    with Session(stack.engine) as session:
        assert len(session.exec(select(EventRow).where(EventRow.type == "deal.stage_changed")).all()) == 1


async def test_a_deal_stage_patch_meets_the_goal_of_a_waiting_enrollment(stack: Stack) -> None:
    steps = [
        {"id": "open", "type": "create_deal", "name": "Plan", "pipeline": "sales", "stage": "new"},
        wait("pause", "P10D"),
        goal("won", WON, if_unmet="end"),
        {"id": "customer", "type": "add_tag", "tag": "customer"},
    ]
    contact = await stack.contact()
    enrollment = await stack.enroll(await stack.automation(steps), contact)
    await stack.at(enrollment, "pause")
    [deal] = await stack.get(f"/contacts/{contact}/deals")
    lost = (await stack.http.patch(f"/deals/{deal['id']}", json={"stage": "lost"})).json()
    await stack.received(enrollment, 1)
    assert (await stack.state(enrollment))["current_step"] == "pause"  # Not a stage the goal names.
    won = (await stack.http.patch(f"/deals/{deal['id']}", json={"stage": "won"})).json()
    state = await stack.until(enrollment, lambda s: s["status"] == "completed")
    assert state["goals_met"] == ["won"]
    [met] = [h for h in state["history"] if h["outcome"] == "goal_met"]
    assert met["detail"] == {"event_id": won["event_id"], "from_step": "pause", "moved": True}
    assert lost["event_id"] != won["event_id"]
    assert (await stack.get(f"/contacts/{contact}"))["tags"] == ["customer"]


async def test_a_deal_steps_stage_change_reaches_the_contacts_other_enrollments(stack: Stack) -> None:
    waiting = [wait("pause", "P10D"), goal("won", WON, if_unmet="end")]
    selling = [
        {"id": "open", "type": "create_deal", "name": "Plan", "pipeline": "sales", "stage": "new"},
        {"id": "win", "type": "update_deal", "stage": "won"},
    ]
    contact = await stack.contact()
    other = await stack.enroll(await stack.automation(waiting), contact)
    await stack.at(other, "pause")
    await completed(stack, await stack.automation(selling), contact)
    state = await stack.until(other, lambda s: s["status"] == "completed")
    assert state["goals_met"] == ["won"]


async def test_create_task_for_a_user_or_the_contacts_owner_due_after_the_step(stack: Stack) -> None:
    assert stack.env is not None
    await users(stack, "sam", "kim")
    steps = [
        {"id": "own", "type": "assign_user", "user": "sam"},
        {"id": "call", "type": "create_task", "title": "Call {{ contact.first_name }}", "due_in": "P1D"},
        {"id": "mail", "type": "create_task", "title": "Write", "due_in": "PT2H", "assignee": "kim"},
        {"id": "ghost", "type": "create_task", "title": "Nobody's", "assignee": "ghost"},
        {"id": "odd", "type": "create_task", "title": "{{ contact.company }}"},
    ]
    contact = await stack.contact(first_name="Ada")
    before = await stack.env.get_current_time()
    state = await completed(stack, await stack.automation(steps), contact)
    after = await stack.env.get_current_time()
    call, mail = await stack.get(f"/contacts/{contact}/tasks")
    assert (call["title"], call["assignee"], call["status"]) == ("Call Ada", "sam", "open")
    assert (mail["title"], mail["assignee"]) == ("Write", "kim")
    due = {t["title"]: t["due_at"] for t in (call, mail)}
    for title, delay in (("Call Ada", DAY), ("Write", timedelta(hours=2))):
        assert before + delay <= datetime.fromisoformat(due[title]) <= after + delay, title
    assert entries(state, "call") == [("done", {"task_id": call["id"], "assignee": "sam"})]
    assert entries(state, "ghost") == [("failed", {"error": "no user 'ghost'"})]
    assert entries(state, "odd") == [("skipped", {"reason": "missing merge field contact.company"})]
    done = (await stack.http.patch(f"/tasks/{call['id']}", json={"status": "done"})).json()
    assert done["status"] == "done"


async def test_assign_user_sets_the_owner_and_a_retry_answers_the_same_user(stack: Stack) -> None:
    await users(stack, "sam", "kim")
    steps = [{"id": "own", "type": "assign_user", "user": "sam"}]
    contact = await stack.contact()
    state = await completed(stack, await stack.automation(steps), contact)
    assert entries(state, "own") == [("done", {"user": "sam", "previous": None})]
    assert (await stack.get(f"/contacts/{contact}"))["owner"] == "sam"

    ghosts = [{"id": "own", "type": "assign_user", "users": ["sam", "ghost"], "strategy": "round_robin"}]
    state = await completed(stack, await stack.automation(ghosts), contact)
    assert entries(state, "own") == [("failed", {"error": "no user 'ghost'"})]
    with Session(stack.engine) as session:  # No turn was taken.
        assert session.exec(select(Rotation)).all() == []

    # The activity itself, retried after its first attempt went through: the
    # same user, and the rotation moved once.
    activities = OwnerActivities(
        Deps(stack.engine, EventBus(stack.engine, stack.client), Outbox(stack.engine))
    )
    ask = AssignInput(key="rr.x.1/own/1", enrollment_id="rr.x.1", contact_id=contact, automation_id="rr",
                      version=1, step_id="own", users=["sam", "kim"])  # fmt: skip
    first = await ActivityEnvironment().run(activities.assign_user, ask)
    retry = await ActivityEnvironment().run(activities.assign_user, ask)
    following = await ActivityEnvironment().run(activities.assign_user, ask.model_copy(update={"key": "k2"}))
    assert first == retry and first.detail == {"user": "sam", "previous": "sam"}
    assert following.detail == {"user": "kim", "previous": "sam"}


async def test_round_robin_is_fair_under_100_concurrent_assignments(stack: Stack) -> None:
    """100 contacts enter at once, 4 users take turns: 25 each, whatever the
    order the worker's concurrent activities reach the database in."""
    team = ["ann", "bob", "cy", "dee"]
    await users(stack, *team)
    steps = [{"id": "route", "type": "assign_user", "users": team, "strategy": "round_robin"}]
    automation = await stack.automation(steps)
    contacts = await asyncio.gather(*(stack.contact(email=f"c{i}@example.test") for i in range(100)))
    enrolled = await asyncio.gather(*(stack.enroll(automation, c) for c in contacts))
    # One at a time: 100 pollers at once would cost the worker more than the test.
    states = [await stack.until(e, lambda s: s["status"] == "completed", within=120) for e in enrolled]
    owners = [(await stack.get(f"/contacts/{c}"))["owner"] for c in contacts]
    assert Counter(owners) == {user: 25 for user in team}
    assert [entries(s, "route")[0][1]["user"] for s in states] == owners
    with Session(stack.engine) as session:
        assert [(r.automation_id, r.version, r.turns) for r in session.exec(select(Rotation))] == [
            (automation, 1, 100)
        ]


def test_round_robin_turns_taken_from_many_connections_at_once_are_each_taken_once(engine: Engine) -> None:
    """As several workers would: 100 assignments from 20 threads, each on its
    own connection, each in its own transaction."""
    team = ["ann", "bob", "cy", "dee"]
    with Session(engine) as session:
        for user_id in team:
            user_store.create_user(session, user_id, user_id, f"{user_id}@acme.test")
        session.add_all(Contact(id=f"c{i}", created_at=utcnow()) for i in range(100))
        session.commit()

    def assign(i: int) -> str:
        ask = AssignInput(key=f"rr.c{i}.1/route/1", enrollment_id=f"rr.c{i}.1", contact_id=f"c{i}",
                          automation_id="rr", version=1, step_id="route", users=team)  # fmt: skip
        with Session(engine) as session:
            return str(_assign(session, ask).detail["user"])

    with ThreadPoolExecutor(max_workers=20) as pool:
        picked = list(pool.map(assign, range(100)))
    assert Counter(picked) == {user: 25 for user in team}
    with Session(engine) as session:
        owners = {c.id: c.owner for c in session.exec(select(Contact))}
    assert owners == {f"c{i}": user for i, user in enumerate(picked)}


async def test_notify_also_emails_its_users(
    mail_stack: Stack,  # noqa: F811
    mailbox: tuple[Mailbox, int],  # noqa: F811
) -> None:
    box, _ = mailbox
    stack = mail_stack
    await users(stack, "sam", "kim")
    steps = [
        {"id": "tell", "type": "notify", "to": ["ops@acme.test", "sam@acme.test"], "users": ["sam", "kim"],
         "subject": "{{ contact.first_name }} is ready", "body": "Call her"},
        {"id": "only", "type": "notify", "users": ["kim"], "subject": "Yours", "body": "Call her"},
        {"id": "ghost", "type": "notify", "users": ["kim", "ghost"], "subject": "Lost", "body": "No one"},
    ]  # fmt: skip
    contact = await stack.contact(first_name="Ada")
    state = await completed(stack, await stack.automation(steps), contact)
    # Each address once: sam is in `to` and among the users.
    assert box.envelopes == [
        ("news@acme.test", ["ops@acme.test", "sam@acme.test", "kim@acme.test"]),
        ("news@acme.test", ["kim@acme.test"]),
    ]
    assert box.received[0]["To"] == "ops@acme.test, sam@acme.test, kim@acme.test"
    assert box.received[0]["Subject"] == "Ada is ready"
    assert [o for o, _ in entries(state, "tell")] == ["done"]
    assert entries(state, "ghost") == [("failed", {"error": "no user 'ghost'"})]
