"""SPEC §5 triggers, segments and lists, each rule through the HTTP API, the
worker and the real Temporal time-skipping server, on SQLite and PostgreSQL."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session, select

from shared.contracts import ByTrigger
from shared.domain.events import Event
from shared.services import enrollments, triggers
from shared.services.context import Services
from shared.services.events import EventBus
from shared.store.db import TriggerFiring
from tests.builders import DAY, email, goal, tag_added, wait
from tests.conftest import Stack

pytestmark = pytest.mark.workflow

HOLD = [wait("hold", "P30D")]
DONE = [{"id": "done", "type": "add_tag", "tag": "was-here"}]


async def enrolled(stack: Stack, contact: str, automation: str | None = None) -> list[dict[str, Any]]:
    """The contact's enrollments (in `automation`), oldest first."""
    found = await stack.get(f"/contacts/{contact}/enrollments")
    return [e for e in found if automation is None or e["automation_id"] == automation]


async def completed(stack: Stack, enrollment_id: str) -> dict[str, Any]:
    """Its state once its workflow closed: a run left closing when the test's
    worker stops would hold the time-skipping server's clock for the next test."""
    await stack.client.get_workflow_handle(enrollment_id).result()
    return await stack.state(enrollment_id)


async def custom(stack: Stack, contact: str, name: str, **fields: Any) -> str:
    """Post a `custom` event; `occurred_at` and the rest of `fields` go into the body."""
    when = fields.pop("occurred_at", None)
    body: dict[str, Any] = {
        "id": f"ev_{uuid.uuid4().hex}",
        "contact_id": contact,
        "type": "custom",
        "data": {"name": name, **fields},
    }
    if when is not None:
        body["occurred_at"] = when.isoformat()
    await stack.post("/events", body, expect=202)
    return str(body["id"])


async def new_list(stack: Stack, list_id: str) -> None:
    await stack.post("/lists", {"id": list_id, "name": list_id.title()}, expect=201)


async def sent_message(stack: Stack, contact: str, automation: str) -> str:
    """The id of the message `automation` (a send, then a wait) sent the contact."""
    enrollment = await stack.enroll(automation, contact)
    state = await stack.until(enrollment, lambda s: bool(s["messages"]))
    return str(state["messages"][0]["message_id"])


async def test_every_trigger_type_starts_its_automation_for_the_events_contact(stack: Stack) -> None:
    await new_list(stack, "news")
    await new_list(stack, "old")
    mailer = await stack.automation([email("hello"), *HOLD])
    other_mailer = await stack.automation([email("hi"), *HOLD])
    on: dict[str, str] = {}
    for name, trigger in {
        "event": {"type": "event", "name": "signup", "value": "pro"},
        "tag.added": {"type": "tag.added", "tag": "lead"},
        "tag.removed": {"type": "tag.removed", "tag": "trial"},
        "list.joined": {"type": "list.joined", "list": "news"},
        "list.left": {"type": "list.left", "list": "old"},
        "appointment": {"type": "appointment", "calendar": "cal_1", "statuses": ["confirmed"]},
        "link.clicked": {"type": "link.clicked", "links": ["lnk_1"]},
        "email": {"type": "email", "actions": ["opened"], "automation": mailer},
    }.items():
        on[name] = await stack.automation(HOLD, triggers=[{"type": "event", "name": "nothing"}, trigger])
    contacts = {name: await stack.contact(tags=["trial"]) for name in on}

    async def cause(name: str, contact: str) -> None:
        """The event that fires trigger `name`, after one that nearly does."""
        match name:
            case "event":
                await custom(stack, contact, "signup", value="free")
                await custom(stack, contact, "signup", value="pro")
            case "tag.added":
                await stack.post(f"/contacts/{contact}/tags", {"tag": "other"})
                await stack.post(f"/contacts/{contact}/tags", {"tag": "lead"})
            case "tag.removed":
                await stack.post(f"/contacts/{contact}/tags", {"tag": "trial"})  # Had it: no event.
                await stack.http.delete(f"/contacts/{contact}/tags/trial")
            case "list.joined":
                await stack.post("/lists/old/members", {"contact_id": contact})
                await stack.post("/lists/news/members", {"contact_id": contact})
            case "list.left":
                await stack.http.delete(f"/lists/old/members/{contact}")  # Not a member: no event.
                await stack.post("/lists/old/members", {"contact_id": contact})
                await stack.http.delete(f"/lists/old/members/{contact}")
            case "appointment":
                for status in ("new", "confirmed"):
                    body = {"contact_id": contact, "calendar_id": "cal_1", "status": status}
                    await stack.http.put("/appointments/appt-" + contact, json=body)
            case "link.clicked":
                await stack.event(
                    contact, "link.clicked", link_id="lnk_1", automated=True
                )  # A scanner (G14).
                await stack.event(contact, "link.clicked", link_id="lnk_1")
            case "email":
                other = await sent_message(stack, contact, other_mailer)
                await stack.event(contact, "email.opened", message_id=other)  # Another automation's.
                mine = await sent_message(stack, contact, mailer)
                await stack.event(contact, "email.opened", message_id=mine)

    for name, contact in contacts.items():
        await cause(name, contact)
    for name, automation in on.items():
        entered = {c for c in contacts.values() if await enrolled(stack, c, automation)}
        assert entered == {contacts[name]}, name
        (enrollment,) = await enrolled(stack, contacts[name], automation)
        assert enrollment["entered_by"]["trigger"] == 1
        state = await stack.state(enrollment["enrollment_id"])
        assert state["entered_by"] == enrollment["entered_by"] and state["status"] == "running"


async def test_a_new_contact_fires_contact_created(stack: Stack) -> None:
    welcome = await stack.automation(HOLD, triggers=[{"type": "contact.created"}])
    contact = await stack.contact()
    (enrollment,) = await enrolled(stack, contact, welcome)
    assert set(enrollment["entered_by"]) == {"trigger", "event_id"}
    # Enrolling by hand says so.
    manual = await stack.enroll(await stack.automation(HOLD), contact)
    assert (await stack.state(manual))["entered_by"] == {"api": True}


async def test_an_automated_click_fires_a_trigger_that_counts_them(stack: Stack) -> None:
    counting = await stack.automation(
        HOLD, triggers=[{"type": "link.clicked", "links": ["lnk_1"], "count_automated": True}]
    )
    contact = await stack.contact()
    await stack.event(contact, "link.clicked", link_id="lnk_1", automated=True)
    assert len(await enrolled(stack, contact, counting)) == 1


async def test_reentry_never_fires_once_per_contact_ever(stack: Stack) -> None:
    once = await stack.automation(DONE, reentry="never", triggers=[{"type": "event", "name": "ping"}])
    contact = await stack.contact()
    await custom(stack, contact, "ping")
    (first,) = await enrolled(stack, contact, once)
    await completed(stack, first["enrollment_id"])
    await custom(stack, contact, "ping")
    assert [e["enrollment_id"] for e in await enrolled(stack, contact, once)] == [first["enrollment_id"]]


async def test_reentry_after_exit_fires_every_time_the_contact_is_not_in_it(stack: Stack) -> None:
    every = await stack.automation(HOLD, triggers=[{"type": "event", "name": "ping"}])
    contact = await stack.contact()
    await custom(stack, contact, "ping")
    (first,) = await enrolled(stack, contact, every)
    await stack.at(first["enrollment_id"], "hold")
    await custom(stack, contact, "ping")  # In it already: no second enrollment.
    assert len(await enrolled(stack, contact, every)) == 1
    await stack.skip(DAY * 31)
    await completed(stack, first["enrollment_id"])
    second = await custom(stack, contact, "ping")
    runs = await enrolled(stack, contact, every)
    assert [e["entered_by"].get("event_id") for e in runs][1:] == [second]


async def test_each_segment_condition_is_checked_when_the_trigger_fires(stack: Stack) -> None:
    await new_list(stack, "newsletter")
    segments: dict[str, dict[str, Any]] = {
        "tag": {"tag": "vip"},
        "attribute": {"attribute": "plan", "op": "eq", "value": "pro"},
        "list": {"list": "newsletter"},
        "count": {"event": "visit", "count": {"gte": 2}},
        "value": {"event": "visit", "value": "pricing"},
        "within": {"event": "visit", "count": {"gte": 2}, "within": "P30D"},
    }
    automations = {
        name: await stack.automation(HOLD, triggers=[{"type": "event", "name": "visit"}], segment=segment)
        for name, segment in segments.items()
    }
    plain = await stack.contact()
    await custom(stack, plain, "visit", value="home")  # Meets none: its first visit, not pricing.
    assert await enrolled(stack, plain) == []

    # A contact who meets a segment only later does not enter.
    for fields in ({"tags": ["vip"]}, {"attributes": {"plan": "pro"}}):
        await stack.http.patch(f"/contacts/{plain}", json=fields)
    await stack.post("/lists/newsletter/members", {"contact_id": plain})
    assert await enrolled(stack, plain) == []

    vip = await stack.contact(tags=["vip"], attributes={"plan": "pro"})
    await stack.post("/lists/newsletter/members", {"contact_id": vip})
    await custom(stack, vip, "visit", value="home")
    assert {e["automation_id"] for e in await enrolled(stack, vip)} == {
        automations["tag"], automations["attribute"], automations["list"],
    }  # fmt: skip

    # Counted with the event that fires the trigger; an event from 40 days ago is outside P30D.
    counted = await stack.contact()
    await custom(stack, counted, "visit", value="home", occurred_at=datetime.now(UTC) - timedelta(days=40))
    await custom(stack, counted, "visit", value="pricing")
    assert {e["automation_id"] for e in await enrolled(stack, counted)} == {
        automations["count"], automations["value"],
    }  # fmt: skip
    await custom(stack, counted, "visit", value="home")
    assert automations["within"] in {e["automation_id"] for e in await enrolled(stack, counted)}


async def test_an_event_that_fires_triggers_and_meets_a_goal_elsewhere_does_each_once(stack: Stack) -> None:
    # Running already, waiting for the tag.
    waiting = await stack.automation([wait("pause"), goal("bought", tag_added("bought")), *HOLD])
    contact = await stack.contact()
    running = await stack.enroll(waiting, contact)
    await stack.at(running, "pause")
    # Two automations the same tag starts, one with a goal on that very tag (G15).
    started = [
        await stack.automation(
            [goal("bought", tag_added("bought"), if_unmet="wait"), *HOLD],
            triggers=[{"type": "tag.added", "tag": "bought"}],
        ),
        await stack.automation(HOLD, triggers=[{"type": "tag.added", "tag": "bought"}]),
    ]
    event_id = (await stack.post(f"/contacts/{contact}/tags", {"tag": "bought"}))["event_id"]
    state = await stack.until(running, lambda s: s["current_step"] == "hold")
    assert state["goals_met"] == ["bought"]
    assert len([h for h in state["history"] if h["outcome"] == "goal_met"]) == 1
    for automation in started:
        (enrollment,) = await enrolled(stack, contact, automation)
        assert enrollment["entered_by"] == {"trigger": 0, "event_id": event_id}
    g15 = (await enrolled(stack, contact, started[0]))[0]["enrollment_id"]
    state = await stack.at(g15, "bought")
    assert state["goals_met"] == [] and state["events_received"] == 0
    # Removed and added again: a later event meets it.
    await stack.http.delete(f"/contacts/{contact}/tags/bought")
    await stack.post(f"/contacts/{contact}/tags", {"tag": "bought"})
    state = await stack.until(g15, lambda s: s["goals_met"] == ["bought"])
    assert len(await enrolled(stack, contact, started[0])) == 1


async def test_g15_the_trigger_event_meets_no_goal_even_when_it_occurs_after_the_start(stack: Stack) -> None:
    """An `occurred_at` in the future is later than the enrollment's start: the
    catch-up read at start hands it over, and only its id keeps it from counting."""
    automation = await stack.automation(
        [goal("signed", {"type": "custom", "name": "signup"}, if_unmet="wait"), *HOLD],
        triggers=[{"type": "event", "name": "signup"}],
    )
    contact = await stack.contact()
    await custom(stack, contact, "signup", occurred_at=datetime.now(UTC) + timedelta(minutes=5))
    (enrollment,) = await enrolled(stack, contact, automation)
    state = await stack.at(enrollment["enrollment_id"], "signed")
    assert state["goals_met"] == [] and state["events_received"] == 0
    await custom(stack, contact, "signup", occurred_at=datetime.now(UTC) + timedelta(minutes=10))
    state = await stack.until(enrollment["enrollment_id"], lambda s: s["goals_met"] == ["signed"])
    assert len(await enrolled(stack, contact, automation)) == 1


async def test_archived_automations_and_events_from_before_the_version_never_fire(stack: Stack) -> None:
    contact = await stack.contact()
    before = datetime.now(UTC) - timedelta(hours=1)
    archived = await stack.automation(HOLD, triggers=[{"type": "event", "name": "go"}])
    await stack.http.delete(f"/automations/{archived}")
    live = await stack.automation(HOLD, triggers=[{"type": "event", "name": "go"}])
    await custom(stack, contact, "go", occurred_at=before)  # Late: it occurred before `live` existed.
    assert await enrolled(stack, contact) == []
    await custom(stack, contact, "go")
    assert [e["automation_id"] for e in await enrolled(stack, contact)] == [live]


async def test_a_new_version_changes_the_triggers_for_events_from_then_on(stack: Stack) -> None:
    body = {"name": "test", "steps": HOLD, "triggers": [{"type": "event", "name": "a"}]}
    automation = (await stack.post("/automations", body, expect=201))["id"]
    first, second = await stack.contact(), await stack.contact()
    await custom(stack, first, "a")
    await stack.http.put(
        f"/automations/{automation}", json={**body, "triggers": [{"type": "event", "name": "b"}]}
    )
    await custom(stack, second, "a")
    assert await enrolled(stack, second) == []
    await custom(stack, second, "b")
    assert [e["version"] for e in await enrolled(stack, first) + await enrolled(stack, second)] == [1, 2]


async def test_an_event_stored_but_not_evaluated_fires_once_from_the_sweep(stack: Stack) -> None:
    """A crash right after the event's transaction: the firing is stored with the
    event, never evaluated. The sweep fires it on the version that was current
    when the event was stored, once, however many sweeps run."""
    body = {"name": "test", "steps": DONE, "triggers": [{"type": "event", "name": "signup"}]}
    automation = (await stack.post("/automations", body, expect=201))["id"]
    contact = await stack.contact()
    event = Event(id=f"ev_{uuid.uuid4().hex}", contact_id=contact, type="custom", data={"name": "signup"})
    await EventBus(stack.engine, stack.client).publish(event)  # Stored; the process died before firing.
    assert await enrolled(stack, contact) == []
    await stack.http.put(f"/automations/{automation}", json={**body, "triggers": []})

    services = Services(stack.engine, stack.client, stack.task_queue)
    counts = await asyncio.gather(*(triggers.fire_pending(services) for _ in range(3)))
    counts.append(await triggers.fire_pending(services))
    assert sorted(counts) == [0, 0, 0, 1]
    (enrollment,) = await enrolled(stack, contact)
    assert enrollment["version"] == 1
    assert enrollment["entered_by"] == {"trigger": 0, "event_id": event.id}
    state = await completed(stack, enrollment["enrollment_id"])
    assert state["entered_by"] == {"trigger": 0, "event_id": event.id}


async def test_a_crash_between_starting_and_recording_starts_nothing_twice(stack: Stack) -> None:
    """The enrollment was started, and ended already, but its firing still reads
    pending: re-entry would let the contact in again. The sweep finds the
    enrollment by what started it."""
    automation = await stack.automation(DONE, triggers=[{"type": "event", "name": "signup"}])
    contact = await stack.contact()
    event = Event(id=f"ev_{uuid.uuid4().hex}", contact_id=contact, type="custom", data={"name": "signup"})
    await EventBus(stack.engine, stack.client).publish(event)
    services = Services(stack.engine, stack.client, stack.task_queue)
    crashed = await enrollments.start(
        services, automation, contact, entered_by=ByTrigger(trigger=0, event_id=event.id), seen=[event.id]
    )
    await completed(stack, crashed.enrollment_id)
    assert await triggers.fire_pending(services) == 0
    assert [e["enrollment_id"] for e in await enrolled(stack, contact)] == [crashed.enrollment_id]
    with Session(stack.engine) as session:
        firing = session.exec(select(TriggerFiring)).one()
    assert (firing.status, firing.enrollment_id) == ("enrolled", crashed.enrollment_id)


async def test_a_refused_entry_is_recorded_with_its_reason(stack: Stack) -> None:
    automation = await stack.automation(
        HOLD, triggers=[{"type": "event", "name": "ping"}], segment={"tag": "vip"}
    )
    contact = await stack.contact(tags=["vip"])
    await custom(stack, contact, "ping")
    await custom(stack, contact, "ping")
    await stack.http.delete(f"/contacts/{contact}/tags/vip")
    await custom(stack, contact, "ping")
    with Session(stack.engine) as session:
        firings = session.exec(select(TriggerFiring).order_by(TriggerFiring.created_at)).all()  # type: ignore[arg-type]
    assert [(f.automation_id, f.status, f.reason) for f in firings] == [
        (automation, "enrolled", None),
        (automation, "skipped", "already enrolled"),
        (automation, "skipped", "segment not met"),
    ]


async def test_a_paused_automation_does_not_fire_and_counts_the_skip(stack: Stack) -> None:
    automation = await stack.automation(HOLD, triggers=[{"type": "event", "name": "ping"}])
    contact = await stack.contact()
    await stack.post(f"/automations/{automation}/pause")
    await custom(stack, contact, "ping")
    assert await enrolled(stack, contact) == []
    await stack.post(f"/automations/{automation}/resume")
    await custom(stack, contact, "ping")
    assert [e["automation_id"] for e in await enrolled(stack, contact)] == [automation]
    with Session(stack.engine) as session:
        firings = session.exec(select(TriggerFiring).order_by(TriggerFiring.created_at)).all()  # type: ignore[arg-type]
    assert [(f.status, f.reason) for f in firings] == [("skipped", "automation paused"), ("enrolled", None)]


async def test_if_else_branches_on_lists_and_event_history(stack: Stack) -> None:
    await new_list(stack, "newsletter")
    branch = {
        "id": "branch",
        "type": "if_else",
        "condition": {
            "all": [{"list": "newsletter"}, {"event": "visit", "value": "pricing", "count": {"gte": 2}}]
        },
        "then": "hot",
        "else": "cold",
    }
    steps = [
        branch,
        {"id": "cold", "type": "add_tag", "tag": "cold", "next": "end"},
        {"id": "hot", "type": "add_tag", "tag": "hot"},
    ]
    automation = await stack.automation(steps)
    hot, cold = await stack.contact(), await stack.contact()
    for contact in (hot, cold):
        await stack.post("/lists/newsletter/members", {"contact_id": contact})
        await custom(stack, contact, "visit", value="pricing")
    await custom(stack, hot, "visit", value="pricing")
    await custom(stack, cold, "visit", value="home")
    for contact, tag in ((hot, "hot"), (cold, "cold")):
        state = await completed(stack, await stack.enroll(automation, contact))
        assert [h["detail"]["branch"] for h in state["history"] if h["step_id"] == "branch"] == [
            "then" if tag == "hot" else "else"
        ]
        assert tag in (await stack.get(f"/contacts/{contact}"))["tags"]


async def test_lists_their_members_and_the_events_each_change_records(stack: Stack) -> None:
    created = await stack.post("/lists", {"id": "newsletter", "name": "Newsletter"}, expect=201)
    assert (created["id"], created["name"], created["member_count"]) == ("newsletter", "Newsletter", 0)
    generated = await stack.post("/lists", {"name": "Customers"}, expect=201)
    assert generated["id"].startswith("lst_")
    assert (await stack.http.post("/lists", json={"id": "newsletter", "name": "x"})).status_code == 409
    contact = await stack.contact()
    joined = await stack.post("/lists/newsletter/members", {"contact_id": contact})
    assert joined["event_id"] and joined["member"]
    assert (await stack.post("/lists/newsletter/members", {"contact_id": contact}))["event_id"] is None
    assert (await stack.get("/lists/newsletter"))["member_count"] == 1
    assert (await stack.get(f"/contacts/{contact}"))["lists"] == ["newsletter"]
    assert [(v["id"], v["member_count"]) for v in await stack.get("/lists")] == [
        ("newsletter", 1), (generated["id"], 0),
    ]  # fmt: skip
    left = (await stack.http.delete(f"/lists/newsletter/members/{contact}")).json()
    assert left["event_id"] and not left["member"]
    assert (await stack.http.delete(f"/lists/newsletter/members/{contact}")).json()["event_id"] is None
    assert (await stack.get(f"/contacts/{contact}"))["lists"] == []
    assert (await stack.http.get("/lists/nope")).status_code == 404
    assert (await stack.http.post("/lists/nope/members", json={"contact_id": contact})).status_code == 404
    assert (
        await stack.http.post("/lists/newsletter/members", json={"contact_id": "nobody"})
    ).status_code == 404

    # A goal on the change: the events reach running enrollments like any other.
    waiting = await stack.automation(
        [goal("subscribed", {"type": "custom", "name": "never"}, if_unmet="wait")]
    )
    enrollment = await stack.enroll(waiting, contact)
    await stack.post("/lists/newsletter/members", {"contact_id": contact})
    await stack.received(enrollment, 1)
