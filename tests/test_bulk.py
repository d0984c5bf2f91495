"""Bulk enrollment (SPEC §5) through the HTTP API, the worker and the real
Temporal time-skipping server, on SQLite and PostgreSQL: each source, the
entry rules counted as skips, pause, resume, cancel, a page done twice, and a
bulk enrollment whose workflow never started."""

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest

from shared.contracts import ByBulk
from shared.services import bulk, enrollments
from shared.services.context import Services
from shared.store import bulk as store
from tests.builders import wait
from tests.conftest import Stack

pytestmark = pytest.mark.workflow

HOLD = [wait("hold", "P30D")]
DONE = [{"id": "done", "type": "add_tag", "tag": "was-here"}]


def services(stack: Stack) -> Services:
    return Services(stack.engine, stack.client, stack.task_queue)


async def ended(stack: Stack, bulk_id: str, within: float = 30) -> dict[str, Any]:
    """Its view once it ended; fails with the last view."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        view = await stack.get(f"/bulk-enrollments/{bulk_id}")
        if view["status"] in ("completed", "cancelled", "failed"):
            await stack.client.get_workflow_handle(bulk_id).result()
            return view  # type: ignore[no-any-return]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"bulk enrollment still {view}")
        await asyncio.sleep(0.05)


async def entered(stack: Stack, contact: str, automation: str) -> list[dict[str, Any]]:
    found = await stack.get(f"/contacts/{contact}/enrollments")
    return [e for e in found if e["automation_id"] == automation]


async def start(stack: Stack, automation: str, body: dict[str, Any]) -> str:
    answer = await stack.post(f"/automations/{automation}/bulk-enrollments", body, expect=202)
    assert answer["status"] == "running"
    return str(answer["bulk_id"])


async def test_contact_ids_enter_once_and_the_entry_rules_are_counted_as_skips(stack: Stack) -> None:
    once = await stack.automation(HOLD, reentry="never")
    contacts = [await stack.contact() for _ in range(5)]
    already = await stack.enroll(once, contacts[0])
    bulk_id = await start(stack, once, {"contact_ids": [*contacts, "nobody", contacts[1]]})
    view = await ended(stack, bulk_id)
    assert view["status"] == "completed" and view["finished_at"] is not None
    assert view["matched"] == 6  # Each id once.
    assert view["enrolled"] == 4 and view["failed"] == 0
    assert view["skipped"] == {"already enrolled": 1, "contact not found": 1}
    assert view["enrolled"] + sum(view["skipped"].values()) + view["failed"] == view["matched"]
    for contact in contacts[1:]:
        (enrollment,) = await entered(stack, contact, once)
        assert enrollment["entered_by"] == {"bulk_id": bulk_id}
        state = await stack.state(enrollment["enrollment_id"])
        assert state["entered_by"] == {"bulk_id": bulk_id} and state["version"] == view["version"]
    assert [e["enrollment_id"] for e in await entered(stack, contacts[0], once)] == [already]

    # Once they ended, `reentry: never` keeps them out of a second bulk enrollment.
    for contact in contacts:
        for enrollment in await entered(stack, contact, once):
            await stack.http.delete(f"/enrollments/{enrollment['enrollment_id']}")
    again = await ended(stack, await start(stack, once, {"contact_ids": contacts}))
    assert again["enrolled"] == 0 and again["skipped"] == {"reentry never": 5}
    listed = await stack.get(f"/automations/{once}/bulk-enrollments")
    assert [b["bulk_id"] for b in listed] == [bulk_id, again["bulk_id"]]


async def test_a_list_and_a_segment_enter_their_members_page_by_page_at_the_rate(stack: Stack) -> None:
    await stack.post("/lists", {"id": "vip", "name": "VIP"}, expect=201)
    members = [await stack.contact(tags=["a"] if i % 2 else []) for i in range(7)]
    for contact in members:
        await stack.post("/lists/vip/members", {"contact_id": contact})
    await stack.contact(tags=["a"])  # Not on the list.
    by_list = await stack.automation(DONE)
    by_segment = await stack.automation(DONE)
    segment = {"all": [{"list": "vip"}, {"tag": "a"}]}

    dry = await stack.http.post(
        f"/automations/{by_segment}/bulk-enrollments?dry_run=true", json={"segment": segment}
    )
    assert dry.status_code == 200 and dry.json() == {"matched": 3}
    dry = await stack.http.post(f"/automations/{by_list}/bulk-enrollments?dry_run=true", json={"list": "vip"})
    assert dry.json() == {"matched": 7}
    assert await stack.get(f"/automations/{by_list}/bulk-enrollments") == []  # Nobody enrolled.

    # Two contacts a second: pages of two, the rate's sleeps skipped by the test server's clock.
    listed = await ended(stack, await start(stack, by_list, {"list": "vip", "rate": 2}))
    assert listed["rate"] == 2 and (listed["matched"], listed["enrolled"]) == (7, 7)
    segmented = await ended(stack, await start(stack, by_segment, {"segment": segment}))
    assert (segmented["matched"], segmented["enrolled"]) == (3, 3)
    for i, contact in enumerate(members):
        assert len(await entered(stack, contact, by_list)) == 1
        assert len(await entered(stack, contact, by_segment)) == i % 2
    history = stack.client.get_workflow_handle(listed["bulk_id"]).fetch_history_events()
    pages = [e async for e in history if e.HasField("activity_task_scheduled_event_attributes")]
    assert len(pages) == 4  # 2 + 2 + 2 + 1: the last, shorter page ends it.


async def test_a_paused_automation_is_counted_as_a_skip(stack: Stack) -> None:
    automation = await stack.automation(HOLD)
    contacts = [await stack.contact() for _ in range(3)]
    await stack.post(f"/automations/{automation}/pause", expect=200)
    view = await ended(stack, await start(stack, automation, {"contact_ids": contacts}))
    assert view["skipped"] == {"automation paused": 3} and view["enrolled"] == 0


async def test_pause_holds_it_between_pages_resume_goes_on_and_cancel_ends_it(stack: Stack) -> None:
    automation = await stack.automation(DONE)
    contacts = [await stack.contact() for _ in range(6)]
    bulk_id = await start(stack, automation, {"contact_ids": contacts, "rate": 1})
    paused = await stack.post(f"/bulk-enrollments/{bulk_id}/pause", expect=200)
    assert paused["status"] == "paused"
    await stack.skip(timedelta(minutes=5))
    held = await stack.get(f"/bulk-enrollments/{bulk_id}")
    assert held["status"] == "paused" and held["matched"] < 6  # At most the page in hand went on.
    await stack.skip(timedelta(minutes=5))
    assert (await stack.get(f"/bulk-enrollments/{bulk_id}"))["matched"] == held["matched"]

    assert (await stack.post(f"/bulk-enrollments/{bulk_id}/resume", expect=200))["status"] == "running"
    view = await ended(stack, bulk_id)
    assert (view["status"], view["matched"], view["enrolled"]) == ("completed", 6, 6)
    # An ended bulk enrollment cannot be resumed or cancelled: 409 says so.
    answer = await stack.http.post(f"/bulk-enrollments/{bulk_id}/resume")
    assert answer.status_code == 409 and "completed" in answer.json()["detail"]

    second = await start(stack, await stack.automation(DONE), {"contact_ids": contacts, "rate": 1})
    cancelled = (await stack.http.delete(f"/bulk-enrollments/{second}")).json()
    assert cancelled["status"] == "cancelled"
    view = await ended(stack, second)
    assert view["status"] == "cancelled" and view["finished_at"] is not None and view["matched"] < 6
    assert view["enrolled"] + sum(view["skipped"].values()) + view["failed"] == view["matched"]
    assert (await stack.http.delete(f"/bulk-enrollments/{second}")).status_code == 200  # Again: no change.


async def test_a_page_done_again_after_a_crash_counts_each_contact_once(stack: Stack) -> None:
    """A crash between starting a page's enrollments and recording the page: the
    next attempt finds the enrollments this bulk enrollment started, by their
    `entered_by`, and counts them enrolled, not skipped as already enrolled."""
    automation = await stack.automation(DONE)  # Ends at once: re-entry would start a second.
    contacts = sorted([await stack.contact() for _ in range(4)])
    svc = services(stack)
    bulk_id = f"bulk_{uuid.uuid4().hex[:8]}"
    row = await svc.db(lambda s: store.create(s, bulk_id, automation, 1, {"contact_ids": contacts}, None))
    for contact in contacts[:2]:  # What the attempt that crashed got done.
        enrolled = await enrollments.start(svc, automation, contact, entered_by=ByBulk(bulk_id=row.id))
        await stack.client.get_workflow_handle(enrolled.enrollment_id).result()
    result = await bulk.enroll_page(svc, row.id, 10, count_failures=False)
    assert (result.status, result.matched, result.enrolled, result.skipped) == ("completed", 4, 4, 0)
    for contact in contacts:
        assert len(await entered(stack, contact, automation)) == 1
    # The same page recorded by a slower attempt counts nothing twice.
    again = await bulk.enroll_page(svc, row.id, 10, count_failures=False)
    assert (again.matched, again.enrolled) == (4, 4)


async def test_the_sweep_starts_a_bulk_enrollment_whose_workflow_never_started(stack: Stack) -> None:
    automation = await stack.automation(HOLD)
    contacts = [await stack.contact() for _ in range(3)]
    svc = services(stack)
    orphan = f"bulk_{uuid.uuid4().hex[:8]}"
    await svc.db(lambda s: store.create(s, orphan, automation, 1, {"contact_ids": contacts}, None))
    assert await bulk.drive_unfinished(svc) == 1
    view = await ended(stack, orphan)
    assert view["enrolled"] == 3
    assert await bulk.drive_unfinished(svc) == 0

    # One whose workflow was terminated in Temporal is recorded failed, not left running.
    stopped = await start(stack, automation, {"contact_ids": contacts, "rate": 1})
    await stack.post(f"/bulk-enrollments/{stopped}/pause", expect=200)
    await stack.client.get_workflow_handle(stopped).terminate("by an operator")
    assert await bulk.drive_unfinished(svc) == 0
    assert (await stack.get(f"/bulk-enrollments/{stopped}"))["status"] == "failed"


async def test_bad_requests_answer_422_naming_the_field_and_unknowns_404(stack: Stack) -> None:
    automation = await stack.automation(HOLD)
    url = f"/automations/{automation}/bulk-enrollments"
    for body, field in [
        ({}, None),
        ({"list": "a", "contact_ids": ["c"]}, None),
        ({"contact_ids": []}, "contact_ids"),
        ({"contact_ids": ["not an id"]}, "contact_ids"),
        ({"list": "vip", "rate": 0}, "rate"),
        ({"segment": {"tag": "a", "colour": 1}}, "segment"),
        ({"list": "vip", "other": 1}, "other"),
        ({"list": "vip", "segment": None}, "segment"),
    ]:
        answer = await stack.http.post(url, json=body)
        assert answer.status_code == 422, (body, answer.text)
        problems = answer.json()["detail"]
        if field is None:
            assert "exactly one of contact_ids, list and segment" in problems[0]["msg"]
        else:
            assert any(field in p["loc"] for p in problems), (body, problems)
    assert (await stack.http.post(url, json={"list": "nope"})).status_code == 404
    assert (
        await stack.http.post("/automations/nope/bulk-enrollments", json={"list": "x"})
    ).status_code == 404
    assert (await stack.http.get("/bulk-enrollments/nope")).status_code == 404
    assert (await stack.http.post("/bulk-enrollments/nope/pause")).status_code == 404
    assert (await stack.http.get("/automations/nope/bulk-enrollments")).status_code == 404
    await stack.http.delete(f"/automations/{automation}")
    archived = await stack.http.post(url, json={"contact_ids": ["c"]})
    assert archived.status_code == 409 and "archived" in archived.json()["detail"]


async def test_bulk_enrollments_see_live_traffic_while_events_come_in(stack: Stack) -> None:
    """What decides whether a bulk enrollment yields (one start at a time, then
    a pause): events received lately, from any contact."""
    assert await bulk.LiveTraffic(services(stack)).present() is False
    await stack.event(await stack.contact(), "custom", name="clicked-around")
    assert await bulk.LiveTraffic(services(stack)).present() is True
