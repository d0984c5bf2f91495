"""The list, blocklist and conversion steps (SPEC §2), on the time-skipping
server, on SQLite and PostgreSQL: their events meet goals and fire triggers
elsewhere, a blocklisted contact gets nothing more from any automation while
the team is still told, and conversions add up per automation."""

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from shared.services.events import EventBus
from shared.store.db import Conversion, EventRow
from tests.builders import DAY, email, goal, wait
from tests.conftest import Stack, make_stack
from tests.test_smtp import Mailbox, mailbox  # noqa: F401  (the fixture)
from worker.activities.base import Deps
from worker.activities.blocklist import BlocklistActivities
from worker.activities.conversions import ConversionActivities
from worker.activities.lists import ListActivities
from worker.outbox import Outbox, Sending
from worker.smtp import SmtpServer
from worker.steps.blocklist import BlocklistInput
from worker.steps.lists import ListInput
from worker.steps.record_conversion import ConversionInput

pytestmark = pytest.mark.workflow

HOLD = [wait("hold", "P30D")]
JOINED_NEWS = {"type": "list.joined", "list": "news"}


def entries(state: dict[str, Any], step_id: str) -> list[tuple[str, dict[str, Any]]]:
    return [(h["outcome"], h["detail"]) for h in state["history"] if h["step_id"] == step_id]


async def completed(stack: Stack, enrollment_id: str) -> dict[str, Any]:
    """Its state once its workflow closed (a run left closing would hold the server's clock).
    Awaiting a result lets the time-skipping server skip time: only where no other
    enrollment's wait must hold meanwhile (else `ended`, then this at the end)."""
    await stack.client.get_workflow_handle(enrollment_id).result()
    return await stack.state(enrollment_id)


async def ended(stack: Stack, enrollment_id: str) -> dict[str, Any]:
    """Its state once it ended, asked by query: the server's clock stands still."""
    return await stack.until(enrollment_id, lambda s: s["status"] != "running")


async def enrolled(stack: Stack, contact: str, automation: str) -> list[dict[str, Any]]:
    found = await stack.get(f"/contacts/{contact}/enrollments")
    return [e for e in found if e["automation_id"] == automation]


def activities(stack: Stack) -> Deps:
    return Deps(stack.engine, EventBus(stack.engine, stack.client), Outbox(stack.engine))


async def test_list_steps_change_membership_meet_goals_and_fire_triggers(stack: Stack) -> None:
    await stack.post("/lists", {"id": "news", "name": "News"}, expect=201)
    contact = await stack.contact()
    # Another automation the contact waits in, with a goal on the list...
    goal_elsewhere = await stack.automation([wait("pause"), goal("joined", JOINED_NEWS), *HOLD])
    waiting = await stack.enroll(goal_elsewhere, contact)
    await stack.at(waiting, "pause")
    # ... one waiting for the event ...
    waits_for_it = await stack.automation(
        [{"id": "until", "type": "wait_for_event", "criteria": [JOINED_NEWS], "timeout": "P5D"}, *HOLD]
    )
    listening = await stack.enroll(waits_for_it, contact)
    await stack.at(listening, "until")
    # ... and one the event starts.
    triggered = await stack.automation(HOLD, triggers=[{"type": "list.joined", "list": "news"}])
    # The list is not looked up on save: it may be made later. At run time its absence fails the step.
    steps = [
        goal("own", JOINED_NEWS),  # Passed unmet: its own step's event meets it, without a move (G6).
        {"id": "join", "type": "add_to_list", "list": "news"},
        {"id": "again", "type": "add_to_list", "list": "news"},
        {"id": "leave", "type": "remove_from_list", "list": "news"},
        {"id": "gone", "type": "remove_from_list", "list": "news"},
        {"id": "nowhere", "type": "add_to_list", "list": "not-made-yet"},
        {"id": "after", "type": "add_tag", "tag": "went-on"},
    ]
    enrollment = await stack.enroll(await stack.automation(steps), contact)
    state = await ended(stack, enrollment)

    joined_event = f"{enrollment}/join/1/0"
    assert entries(state, "join") == [("done", {"list_id": "news"})]
    assert entries(state, "again") == [
        ("skipped", {"reason": "already a member of the list", "list_id": "news"})
    ]
    assert entries(state, "leave") == [("done", {"list_id": "news"})]
    assert entries(state, "gone") == [("skipped", {"reason": "not a member of the list", "list_id": "news"})]
    assert entries(state, "nowhere") == [("failed", {"error": "no list 'not-made-yet'"})]
    assert entries(state, "after") == [("done", {})]
    assert state["goals_met"] == ["own"]
    assert ("goal_met", {"event_id": joined_event, "from_step": "join", "moved": False}) in entries(
        state, "own"
    )
    # The other enrollments saw the join; the trigger started one enrollment.
    state = await stack.until(waiting, lambda s: s["current_step"] == "hold")
    assert state["goals_met"] == ["joined"]
    assert ("goal_met", {"event_id": joined_event, "from_step": "pause", "moved": True}) in entries(
        state, "joined"
    )
    state = await stack.until(listening, lambda s: s["current_step"] == "hold")
    assert entries(state, "until")[-1] == ("event_matched", {"event_id": joined_event})
    [started] = await enrolled(stack, contact, triggered)
    assert started["entered_by"] == {"trigger": 0, "event_id": joined_event}
    # Joined, then left: the contact is in no list, and each real change was one event.
    assert (await stack.get(f"/contacts/{contact}"))["lists"] == []
    assert (await stack.get("/lists/news"))["member_count"] == 0
    with Session(stack.engine) as session:
        kinds = session.exec(
            select(EventRow.type).where(EventRow.contact_id == contact, EventRow.type.startswith("list."))  # type: ignore[attr-defined]
        ).all()
    assert sorted(kinds) == ["list.joined", "list.left"]
    await completed(stack, enrollment)


@pytest_asyncio.fixture
async def mail_stack(
    time_env: WorkflowEnvironment,
    engine: Engine,
    mailbox: tuple[Mailbox, int],  # noqa: F811
) -> AsyncIterator[Stack]:
    """A stack that delivers over SMTP to a real server on loopback."""
    sending = Sending(
        smtp=SmtpServer("127.0.0.1", mailbox[1], tls="none"), default_sender="Acme <news@acme.test>"
    )
    async with make_stack(time_env.client, engine, time_env, sending=sending) as stack:
        yield stack


def tell(step_id: str) -> dict[str, Any]:
    return {
        "id": step_id,
        "type": "notify",
        "to": ["sales@acme.test"],
        "subject": "{{ contact.first_name }}: " + step_id,
        "body": "About {{ contact.id }}",
    }


async def test_a_blocklisted_contact_gets_nothing_more_from_any_automation_but_the_team_is_told(
    mail_stack: Stack,
    mailbox: tuple[Mailbox, int],  # noqa: F811
) -> None:
    box, _ = mailbox
    stack = mail_stack
    ada = await stack.contact(email="ada@example.test", phone="+14155550120")
    # Waiting in another automation when the step blocklists her.
    later = await stack.automation([wait("pause", "P1D"), email("later"), tell("told_later")])
    elsewhere = await stack.enroll(later, ada)
    await stack.at(elsewhere, "pause")
    steps = [
        email("before"),
        {"id": "block", "type": "blocklist"},
        {"id": "again", "type": "blocklist"},
        email("after"),
        {"id": "text", "type": "send_sms", "body": "Hi"},
        {"id": "chat", "type": "send_whatsapp", "body": "Hi"},
        tell("told"),
    ]
    blocking = await stack.enroll(await stack.automation(steps), ada)
    state = await ended(stack, blocking)
    blocked = ("skipped", {"reason": "contact is blocklisted"})
    assert [entries(state, s) for s in ("block", "again", "after", "text", "chat")] == [
        [("done", {})],
        [("skipped", {"reason": "contact already blocklisted"})],
        [blocked],
        [blocked],
        [blocked],
    ]
    assert entries(state, "told")[0][0] == "done"
    assert (await stack.get(f"/contacts/{ada}"))["blocklisted"] is True
    await completed(stack, blocking)
    await stack.skip(DAY * 2)
    state = await completed(stack, elsewhere)
    assert entries(state, "later") == [blocked] and entries(state, "told_later")[0][0] == "done"
    # Only the first email reached her; the team got both notifications.
    assert [m["To"] for m in box.received] == ["ada@example.test", "sales@acme.test", "sales@acme.test"]
    channels = [m["channel"] for m in await stack.get(f"/contacts/{ada}/messages")]
    assert channels == ["email", "internal", "internal"]

    # Through the API: on, and off again.
    bob = await stack.contact(email="bob@example.test", first_name="Bob")
    greet = await stack.automation([email("hello"), tell("told")])
    view = await stack.post(f"/contacts/{bob}/blocklist", expect=200)
    assert (view["id"], view["blocklisted"], view["email"]) == (bob, True, "bob@example.test")
    assert (await stack.post(f"/contacts/{bob}/blocklist", expect=200))["blocklisted"] is True
    state = await completed(stack, await stack.enroll(greet, bob))
    assert entries(state, "hello") == [blocked] and entries(state, "told")[0][0] == "done"
    unblocked = await stack.http.delete(f"/contacts/{bob}/blocklist")
    assert unblocked.status_code == 200 and unblocked.json()["blocklisted"] is False
    assert (await stack.get(f"/contacts/{bob}"))["blocklisted"] is False
    state = await completed(stack, await stack.enroll(greet, bob))
    assert entries(state, "hello")[0][0] == "done"
    assert [m["To"] for m in box.received[3:]] == ["sales@acme.test", "bob@example.test", "sales@acme.test"]
    for verb in ("POST", "DELETE"):
        missing = await stack.http.request(verb, "/contacts/nobody/blocklist")
        assert missing.status_code == 404 and missing.json() == {"detail": "contact 'nobody' not found"}


async def test_conversions_are_attributed_meet_goals_and_add_up_per_automation(stack: Stack) -> None:
    purchase = {"type": "conversion", "name": "purchase"}
    # An automation the contact waits in, with a goal on the conversion.
    goal_elsewhere = await stack.automation([wait("pause"), goal("bought", purchase), *HOLD])
    steps = [
        email("offer"),
        {"id": "signed", "type": "record_conversion", "name": "signup"},
        {"id": "paid", "type": "record_conversion", "name": "purchase", "value": 49.5, "currency": "EUR"},
        goal("converted", purchase, if_unmet="end"),
        email("thanks", subject="thanks"),
    ]
    shop = await stack.automation(steps)
    ada, bob = await stack.contact(), await stack.contact()
    waiting = await stack.enroll(goal_elsewhere, ada)
    await stack.at(waiting, "pause")
    enrollment = await stack.enroll(shop, ada)
    state = await ended(stack, enrollment)
    offer = state["messages"][0]["message_id"]
    assert entries(state, "signed") == [("done", {"name": "signup", "message_id": offer})]
    assert entries(state, "paid") == [
        ("done", {"name": "purchase", "value": 49.5, "currency": "EUR", "message_id": offer})
    ]
    # Its own event meets its goal (the step's event is applied at once), and another enrollment's.
    paid_event = f"{enrollment}/paid/1/0"
    assert state["goals_met"] == ["converted"] and [m["step_id"] for m in state["messages"]] == [
        "offer",
        "thanks",
    ]
    assert ("goal_met", {"event_id": paid_event, "from_step": "paid", "moved": True}) in entries(
        state, "converted"
    )
    state = await stack.until(waiting, lambda s: s["current_step"] == "hold")
    assert state["goals_met"] == ["bought"]
    await completed(stack, enrollment)
    with Session(stack.engine) as session:
        event = session.get(EventRow, paid_event)
        assert event is not None and event.type == "conversion"
        assert {k: event.data[k] for k in ("name", "value", "currency", "message_id")} == {
            "name": "purchase", "value": 49.5, "currency": "EUR", "message_id": offer,
        }  # fmt: skip
        row = session.get(Conversion, f"{enrollment}/paid/1")
        assert row is not None
        assert (row.automation_id, row.version, row.step_id, row.message_id) == (shop, 1, "paid", offer)

    # A second contact, on a second version that converts at another price.
    await stack.http.put(
        f"/automations/{shop}",
        json={"name": "test", "steps": [{**s, "value": 20} if s["id"] == "paid" else s for s in steps]},
    )
    await completed(stack, await stack.enroll(shop, bob))
    totals = await stack.get(f"/automations/{shop}/conversions")
    assert totals == [
        {"name": "purchase", "count": 2, "value": 69.5},
        {"name": "signup", "count": 2, "value": 0},
    ]
    assert await stack.get(f"/automations/{goal_elsewhere}/conversions") == []
    missing = await stack.http.get("/automations/nothing/conversions")
    assert missing.status_code == 404 and missing.json() == {"detail": "automation 'nothing' not found"}


async def test_a_retried_step_run_changes_and_records_once(stack: Stack) -> None:
    """A crash after the step's transaction: the retry repeats no effect and
    answers what the first run did, its event included."""
    await stack.post("/lists", {"id": "news", "name": "News"}, expect=201)
    contact = await stack.contact()
    env = ActivityEnvironment()

    lists = ListActivities(activities(stack))
    join = ListInput(key="en.1/join/1", contact_id=contact, list_id="news", join=True, enrollment_id="en.1")
    first = await env.run(lists.change_list, join)
    assert first.changed and [e.id for e in first.events] == ["en.1/join/1/0"]
    assert await env.run(lists.change_list, join) == first

    block = BlocklistActivities(activities(stack))
    step = BlocklistInput(key="en.1/block/1", contact_id=contact)
    assert await env.run(block.blocklist_contact, step) is True
    assert await env.run(block.blocklist_contact, step) is True  # Not "already blocklisted".

    conversions = ConversionActivities(activities(stack))
    paid = ConversionInput(
        key="en.1/paid/1", enrollment_id="en.1", automation_id="shop", version=1, step_id="paid",
        contact_id=contact, name="purchase", value=10, currency="USD",
    )  # fmt: skip
    recorded = await env.run(conversions.record_conversion, paid)
    assert [e.id for e in recorded.events] == ["en.1/paid/1/0"]
    assert await env.run(conversions.record_conversion, paid) == recorded

    with Session(stack.engine) as session:
        assert len(session.exec(select(Conversion)).all()) == 1
        kinds = session.exec(select(EventRow.type).where(EventRow.contact_id == contact)).all()
    assert sorted(kinds) == ["contact.created", "conversion", "list.joined"]
    assert (await stack.get(f"/contacts/{contact}"))["lists"] == ["news"]
