"""The HTTP contract: validation, versions, entry rules and event routing,
against the real time-skipping server and each database."""

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle

from shared.contracts import EVENT_SIGNAL
from shared.domain.events import Event
from shared.store.db import EnrollmentRow
from tests.builders import email, goal, tag_added, wait
from tests.conftest import Stack, make_stack, time_skipping_server

pytestmark = pytest.mark.workflow


async def test_bad_definitions_get_422_naming_the_step_and_field(stack: Stack) -> None:
    cases: list[tuple[list[dict[str, Any]], list[Any], str]] = [
        ([{"id": "a", "type": "teleport"}], ["body", "steps", 0, "type"], "unknown step type 'teleport'"),
        ([wait("a"), wait("a")], ["body", "steps", 1, "id"], "duplicate id"),
        (
            [{"id": "a", "type": "go_to", "target": "nowhere"}],
            ["body", "steps", 0, "target"],
            "no step 'nowhere'",
        ),
        ([wait("a", "3 days")], ["body", "steps", 0, "duration"], "not an ISO 8601 duration"),
        ([email("a", subject="{{ oops")], ["body", "steps", 0, "subject"], "template error"),
        (
            [goal("g", {"type": "email", "actions": ["opened"], "steps": ["ghost"]})],
            ["body", "steps", 0, "criteria", 0, "steps"],
            "no send_email step 'ghost'",
        ),
        (
            [email("a"), {"id": "b", "type": "go_to", "target": "a"}],
            ["body", "steps", 1, "target"],
            "never waits",
        ),
        ([{"id": "a", "type": "send_email", "body": "x"}], ["body", "steps", 0, "subject"], "Field required"),
    ]
    for steps, loc, message in cases:
        response = await stack.http.post("/automations", json={"name": "bad", "steps": steps})
        assert response.status_code == 422, (steps, response.text)
        problem = response.json()["detail"][0]
        assert problem["loc"] == loc, (steps, problem)
        assert message in problem["msg"], (steps, problem)
        assert problem["msg"].startswith("step '"), problem


async def test_automation_ids_follow_the_id_rule_of_every_id(stack: Stack) -> None:
    steps = [wait("a")]
    for bad in ("x" * 65, "café", "a.b", "", 7):
        response = await stack.http.post("/automations", json={"id": bad, "name": "n", "steps": steps})
        assert response.status_code == 422, (bad, response.text)
        assert response.json()["detail"][0]["loc"] == ["body", "id"]
    chosen = "A-z_0" * 12 + "abcd"
    assert await stack.automation(steps, id=chosen) == chosen


async def test_bad_requests_get_422_and_unknown_ids_404(stack: Stack) -> None:
    contact = await stack.contact()
    bad_event = {"id": "e1", "contact_id": contact, "type": "tag.added", "data": {}}
    response = await stack.http.post("/events", json=bad_event)
    assert response.status_code == 422 and "data.tag is required" in response.text
    response = await stack.http.post("/events", json={**bad_event, "type": "email.teleported"})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "type"]
    response = await stack.http.post("/contacts", json={"email": "not-an-address"})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "email"]
    response = await stack.http.post("/contacts", json={"timezone": "Mars/Olympus"})
    assert response.status_code == 422 and "unknown time zone" in response.text
    for url in (
        "/contacts/nobody",
        "/automations/nothing",
        "/enrollments/a.b.1",
        "/automations/nothing/versions/1",
        "/contacts/nobody/enrollments",
    ):
        assert (await stack.http.get(url)).status_code == 404, url
    response = await stack.http.post("/automations/nothing/enrollments", json={"contact_id": contact})
    assert response.status_code == 404
    response = await stack.http.post(
        "/events", json={**bad_event, "contact_id": "nobody", "data": {"tag": "t"}}
    )
    assert response.status_code == 404


async def test_versions_are_pinned_for_the_life_of_an_enrollment(stack: Stack) -> None:
    automation = await stack.automation([wait("pause"), email("v1", subject="version one")])
    first = await stack.enroll(automation, await stack.contact())
    await stack.at(first, "pause")
    response = await stack.http.put(
        f"/automations/{automation}",
        json={"name": "test", "steps": [wait("pause"), email("v2", subject="two")]},
    )
    assert response.status_code == 200 and response.json()["version"] == 2
    second = await stack.enroll(automation, await stack.contact())
    await stack.at(second, "pause")
    await stack.skip(__import__("datetime").timedelta(days=4))
    one = await stack.until(first, lambda s: s["status"] == "completed")
    two = await stack.until(second, lambda s: s["status"] == "completed")
    assert (one["version"], [m["step_id"] for m in one["messages"]]) == (1, ["v1"])
    assert (two["version"], [m["step_id"] for m in two["messages"]]) == (2, ["v2"])
    assert (await stack.get(f"/automations/{automation}/versions/1"))["steps"][1]["id"] == "v1"
    assert (await stack.get(f"/automations/{automation}"))["version"] == 2


async def test_reentry_rules(stack: Stack) -> None:
    contact = await stack.contact()
    again = await stack.automation([wait("pause")], reentry="after_exit")
    first = await stack.enroll(again, contact)
    response = await stack.http.post(f"/automations/{again}/enrollments", json={"contact_id": contact})
    assert response.status_code == 409 and "already in automation" in response.text
    removed = await stack.http.delete(f"/enrollments/{first}")
    assert removed.json()["status"] == "removed"
    second = await stack.enroll(again, contact)
    assert second.endswith(".2")

    once = await stack.automation([{"id": "bye", "type": "end"}], reentry="never")
    done = await stack.enroll(once, contact)
    await stack.until(done, lambda s: s["status"] == "completed")
    response = await stack.http.post(f"/automations/{once}/enrollments", json={"contact_id": contact})
    assert response.status_code == 409 and "reentry 'never'" in response.text

    listed = await stack.get(f"/contacts/{contact}/enrollments")
    assert {e["enrollment_id"]: e["status"] for e in listed} == {
        first: "removed",
        second: "running",
        done: "completed",
    }


async def test_concurrent_enrollment_requests_give_exactly_one_201(
    engine: Engine, test_server_path: str
) -> None:
    # A server of its own: after a burst of concurrent duplicate starts, the
    # time-skipping test server can stop skipping time for later tests.
    async with time_skipping_server(test_server_path) as env:
        async with make_stack(env.client, engine, env) as stack:
            contact = await stack.contact()
            automation = await stack.automation([wait("pause")])
            url = f"/automations/{automation}/enrollments"
            requests = (stack.http.post(url, json={"contact_id": contact}) for _ in range(100))
            codes = sorted(r.status_code for r in await asyncio.gather(*requests))
            assert codes.count(201) == 1 and codes.count(409) == 99, codes


async def test_an_event_right_after_enrolling_always_arrives(stack: Stack) -> None:
    automation = await stack.automation(
        [goal("clicked", {"type": "link.clicked", "links": ["l"]}, if_unmet="wait")]
    )
    for _ in range(20):
        contact = await stack.contact()
        enrollment = await stack.enroll(automation, contact)
        await stack.event(contact, "link.clicked", link_id="l")
        state = await stack.until(enrollment, lambda s: s["status"] == "completed")
        assert state["goals_met"] == ["clicked"]


async def test_one_event_reaches_all_20_automations_of_a_contact(stack: Stack) -> None:
    contact = await stack.contact()
    enrollments = []
    for _ in range(20):
        automation = await stack.automation(
            [wait("pause", "P10D"), goal("g", tag_added("go")), wait("after")]
        )
        enrollments.append(await stack.enroll(automation, contact))
    answer = await stack.post(f"/contacts/{contact}/tags", {"tag": "go"})
    assert answer["event_id"]
    for enrollment in enrollments:
        state = await stack.at(enrollment, "after")
        assert state["goals_met"] == ["g"]


async def test_duplicate_event_ids_are_delivered_once(stack: Stack) -> None:
    contact = await stack.contact()
    automation = await stack.automation([wait("pause", "P10D")])
    enrollment = await stack.enroll(automation, contact)
    event = {"id": f"ev_{uuid.uuid4().hex}", "contact_id": contact, "type": "custom", "data": {"name": "x"}}
    answers = await asyncio.gather(*(stack.http.post("/events", json=event) for _ in range(10)))
    assert sorted(a.status_code for a in answers) == [200] * 9 + [202]
    assert all(a.json() == {"event_id": event["id"], "delivered_to": [enrollment]} for a in answers)
    await stack.event(contact, "custom", name="after")
    state = await stack.received(enrollment, 2)
    assert state["events_received"] == 2


async def test_messages_are_listed_with_merge_fields_rendered(stack: Stack) -> None:
    contact = await stack.contact(first_name="Grace", attributes={"plan": "pro"})
    automation = await stack.automation(
        [email("hi", subject="Hi {{ contact.first_name }} on {{ contact.plan }}")]
    )
    enrollment = await stack.enroll(automation, contact)
    state = await stack.until(enrollment, lambda s: s["status"] == "completed")
    [message] = await stack.get(f"/contacts/{contact}/messages")
    assert message["subject"] == "Hi Grace on pro"
    assert message["message_id"] == state["messages"][0]["message_id"]


async def test_archived_automations_take_no_new_enrollments(stack: Stack) -> None:
    automation = await stack.automation([wait("pause")])
    running = await stack.enroll(automation, await stack.contact())
    assert (await stack.http.delete(f"/automations/{automation}")).json()["archived"] is True
    response = await stack.http.post(f"/automations/{automation}/enrollments", json={"contact_id": "x"})
    assert response.status_code == 409 and "archived" in response.text
    assert (await stack.state(running))["status"] == "running"


async def test_health(stack: Stack) -> None:
    assert await stack.get("/health") == {"database": "ok", "temporal": "ok"}


async def test_patching_a_contact_merges_attributes_and_turns_tag_changes_into_events(stack: Stack) -> None:
    contact = await stack.contact(attributes={"plan": "free", "old": 1}, tags=["a", "b"])
    automation = await stack.automation(
        [wait("pause", "P10D"), goal("upgraded", tag_added("c")), wait("after")]
    )
    enrollment = await stack.enroll(automation, contact)
    await stack.at(enrollment, "pause")
    body = {"attributes": {"plan": "pro", "old": None}, "tags": ["b", "c"], "last_name": "Lovelace"}
    response = await stack.http.patch(f"/contacts/{contact}", json=body)
    assert response.status_code == 200, response.text
    patched = response.json()
    assert (patched["attributes"], patched["tags"], patched["last_name"]) == (
        {"plan": "pro"},
        ["b", "c"],
        "Lovelace",
    )
    state = await stack.at(enrollment, "after")  # tag.removed a, then tag.added c
    assert state["goals_met"] == ["upgraded"] and state["events_received"] == 2
    assert (await stack.http.patch(f"/contacts/{contact}", json={"tags": None})).json()["tags"] == ["b", "c"]
    assert (await stack.http.patch(f"/contacts/{contact}", json={"phone": 5})).status_code == 422


async def test_an_enrollment_terminated_in_temporal_reads_removed_with_its_last_state(stack: Stack) -> None:
    contact = await stack.contact()
    automation = await stack.automation([email("hi"), wait("pause"), {"id": "bye", "type": "end"}])
    terminated = await stack.enroll(automation, contact)
    await stack.at(terminated, "pause")
    await stack.client.get_workflow_handle(terminated).terminate(reason="ended by an operator")
    # It saved no state: its last state is replayed from Temporal, and the end recorded.
    state = await stack.state(terminated)
    assert (state["status"], state["end_reason"]) == (
        "removed",
        "terminated in Temporal: ended by an operator",
    )
    assert [(h["step_id"], h["outcome"]) for h in state["history"]] == [
        ("hi", "done"), ("pause", "waiting"), ("pause", "terminated"), ("end", "ended"),
    ]  # fmt: skip
    assert [m["step_id"] for m in state["messages"]] == ["hi"] and state["current_step"] is None
    listed = await stack.get(f"/contacts/{contact}/enrollments")
    assert [(e["enrollment_id"], e["status"]) for e in listed] == [(terminated, "removed")]
    delivered = await stack.event(contact, "custom", name="late")
    assert delivered["delivered_to"] == []
    again = await stack.enroll(automation, contact)
    await stack.at(again, "pause")


async def test_an_enrollment_cancelled_in_temporal_ends_removed_with_its_state_saved(stack: Stack) -> None:
    contact = await stack.contact()
    automation = await stack.automation([email("hi"), wait("pause"), email("never")])
    cancelled = await stack.enroll(automation, contact)
    await stack.at(cancelled, "pause")
    handle = stack.client.get_workflow_handle(cancelled)
    await handle.cancel()
    state = await stack.until(cancelled, lambda s: s["status"] != "running")
    assert (state["status"], state["end_reason"]) == ("removed", "cancelled in Temporal")
    assert [(h["step_id"], h["outcome"]) for h in state["history"]][-2:] == [
        ("pause", "cancelled"),
        ("end", "ended"),
    ]
    assert [m["step_id"] for m in state["messages"]] == ["hi"]
    assert (await handle.describe()).status == WorkflowExecutionStatus.CANCELED
    with Session(stack.engine) as session:  # Saved by the workflow itself, as on any end.
        assert session.get(EnrollmentRow, cancelled).final_state["end_reason"] == "cancelled in Temporal"  # type: ignore[union-attr]
    again = await stack.enroll(automation, contact)
    await stack.at(again, "pause")


async def test_a_contact_whose_enrollment_was_terminated_may_enter_again_at_once(stack: Stack) -> None:
    contact = await stack.contact()
    automation = await stack.automation([wait("pause")])
    first = await stack.enroll(automation, contact)
    await stack.at(first, "pause")
    await stack.client.get_workflow_handle(first).terminate()
    # Nobody read the enrollment since: the entry check finds it ended.
    second = await stack.enroll(automation, contact)
    assert second == first[: -len("1")] + "2"
    assert (await stack.state(first))["end_reason"] == "terminated in Temporal"
    refused = await stack.post(f"/automations/{automation}/enrollments", {"contact_id": contact}, expect=409)
    assert second in refused["detail"]
    # Removing one that was terminated unseen answers with its end, not an error.
    await stack.at(second, "pause")
    await stack.client.get_workflow_handle(second).terminate(reason="gone")
    removed = await stack.http.delete(f"/enrollments/{second}")
    assert removed.status_code == 200, removed.text
    assert (removed.json()["status"], removed.json()["end_reason"]) == (
        "removed",
        "terminated in Temporal: gone",
    )


async def test_adding_a_tag_answers_with_the_tags_it_committed(stack: Stack) -> None:
    contact = await stack.contact(tags=["a"])
    first = await stack.post(f"/contacts/{contact}/tags", {"tag": "b"})
    again = await stack.post(f"/contacts/{contact}/tags", {"tag": "b"})
    assert (first["tags"], again["tags"], again["event_id"]) == (["a", "b"], ["a", "b"], None)
    removed = (await stack.http.delete(f"/contacts/{contact}/tags/a")).json()
    assert removed["tags"] == ["b"] and removed["event_id"]


async def test_a_cancellation_that_reaches_a_step_in_progress_ends_the_enrollment(stack: Stack) -> None:
    """The step's activity is cancelled under it, and the enrollment ends as it
    does at a wait (the activity's error is not taken for the step's failure)."""
    contact = await stack.contact()
    go = {"type": "custom", "name": "go"}
    steps = [
        {"id": "ready", "type": "wait_for_event", "criteria": [go], "timeout": "P1D"},
        {"id": "score", "type": "update_attribute", "attribute": "score", "op": "increment"},
        wait("after"),
    ]
    enrollment = await stack.enroll(await stack.automation(steps), contact)
    await stack.at(enrollment, "ready")
    handle = stack.client.get_workflow_handle(enrollment)
    # The contact's row is locked: the step's write waits for it, its activity in progress.
    with stack.engine.connect() as lock:
        lock.execute(text("UPDATE contacts SET first_name = first_name WHERE id = :id"), {"id": contact})
        go_event = Event(id=f"ev_{uuid.uuid4().hex}", contact_id=contact, type="custom", data={"name": "go"})
        await handle.signal(EVENT_SIGNAL, go_event)  # Straight to the workflow: the database is locked.
        await handle.cancel()
        # The worker's next workflow task (the first is held open by the step) brings the cancellation.
        await until_history(handle, EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED, after=CANCEL_REQUESTED)
        await asyncio.sleep(0.5)
        lock.rollback()
    state = await stack.until(enrollment, lambda s: s["status"] != "running", within=60)
    assert (state["status"], state["end_reason"]) == ("removed", "cancelled in Temporal")
    assert [(h["step_id"], h["outcome"]) for h in state["history"]][-2:] == [
        ("score", "cancelled"),
        ("end", "ended"),
    ]
    assert (await handle.describe()).status == WorkflowExecutionStatus.CANCELED


CANCEL_REQUESTED = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED


async def until_history(
    handle: WorkflowHandle[Any, Any], wanted: int, after: int, within: float = 30
) -> None:
    """Wait until the workflow's history has a `wanted` event after an `after` event."""
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        types = [e.event_type for e in (await handle.fetch_history()).events]
        if after in types and wanted in types[types.index(after) :]:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"no {wanted} after {after} within {within} s")


async def test_lists_come_in_pages_linked_by_cursor(stack: Stack) -> None:
    created = [await stack.automation([wait("pause")], id=f"paged-{i}") for i in range(5)]
    contact = await stack.contact()
    for automation in created:
        await stack.enroll(automation, contact)

    async def walk(url: str, limit: int) -> list[str]:
        seen: list[str] = []
        following: str | None = f"{url}?limit={limit}"
        while following:
            response = await stack.http.get(following)
            assert response.status_code == 200, response.text
            page = response.json()
            assert isinstance(page, list) and 0 < len(page) <= limit
            seen += [item.get("enrollment_id") or item["id"] for item in page]
            following = response.links.get("next", {}).get("url")
        return seen

    everything = [a["id"] for a in await stack.get("/automations")]  # Without `limit`: the whole list.
    assert [a for a in everything if a.startswith("paged-")] == created
    assert await walk("/automations", 2) == everything
    listed = await walk(f"/contacts/{contact}/enrollments", 2)
    assert listed == [e["enrollment_id"] for e in await stack.get(f"/contacts/{contact}/enrollments")]
    assert len(listed) == 5
    bad = await stack.http.get("/automations?limit=2&cursor=nonsense")
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "cursor"]
    assert (await stack.http.get("/automations?limit=0")).status_code == 422


async def test_a_method_a_path_does_not_take_gets_405_naming_every_one_it_does(stack: Stack) -> None:
    for method, url, allowed in (
        ("POST", "/automations/x", "DELETE, GET, HEAD, PUT"),
        ("PUT", "/contacts/x", "GET, HEAD, PATCH"),
        ("DELETE", "/events", "POST"),
    ):
        response = await stack.http.request(method, url)
        assert (response.status_code, response.headers["allow"]) == (405, allowed), (method, url)


EXAMPLE = json.loads((Path(__file__).parent.parent / "examples" / "nurture.json").read_text())


async def test_the_definition_is_a_typed_union_in_the_openapi_and_for_editors(stack: Stack) -> None:
    spec = await stack.get("/openapi.json")
    body = spec["paths"]["/automations"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": "#/components/schemas/AutomationDefinition"} and body["examples"]
    definition = spec["components"]["schemas"]["AutomationDefinition"]
    steps = definition["properties"]["steps"]["items"]
    assert steps["discriminator"]["propertyName"] == "type"
    assert steps["discriminator"]["mapping"]["send_email"] == "#/components/schemas/SendEmail"
    assert set(spec["components"]["schemas"]["SendEmail"]["required"]) >= {"id", "type", "subject", "body"}
    for_editors = await stack.get("/schemas/automation.json")
    assert for_editors["properties"].keys() == definition["properties"].keys()
    assert for_editors["properties"]["steps"]["items"]["discriminator"]["mapping"]["wait"] == "#/$defs/Wait"
    assert set(EXAMPLE) <= set(for_editors["properties"])
