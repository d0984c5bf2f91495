"""Realistic content at scale: an enrollment carries its version's structure,
its sends fetch the content by reference, and sizes are refused up front with
their numbers (README, "Limits"); on the time-skipping server."""

import json
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlmodel import Session, col
from temporalio.api.enums.v1 import EventType
from temporalio.common import WorkflowIDReusePolicy

from shared.contracts import WORKFLOW_NAME
from shared.domain.limits import DEFINITION_BYTES, EVENT_BYTES, STRUCTURE_BYTES, TEMPLATE_BYTES, MiB
from shared.store.db import AutomationVersion, utcnow
from tests.builders import html_email, input_bytes, wait
from tests.conftest import Stack

pytestmark = pytest.mark.workflow


async def test_an_enrollment_carries_structure_and_digests_and_its_send_the_content(stack: Stack) -> None:
    steps = [html_email("welcome"), wait("pause"), html_email("followup")]
    automation = await stack.automation(steps)
    contact = await stack.contact(first_name="Grace")
    enrollment = await stack.enroll(automation, contact)
    await stack.at(enrollment, "pause")

    carried = await input_bytes(stack, enrollment)
    assert len(carried) < 2_000, len(carried)
    assert b"Product 1" not in carried and b"Grace" not in carried
    plan = json.loads(carried)["automation"]["steps"]
    assert [(s["id"], s["type"]) for s in plan] == [
        ("welcome", "send_email"), ("pause", "wait"), ("followup", "send_email"),
    ]  # fmt: skip
    assert plan[0]["digest"].startswith("sha256:") and plan[0]["digest"] != plan[2]["digest"]

    (message,) = await stack.get(f"/contacts/{contact}/messages")
    assert message["subject"] == "welcome for Grace"
    assert len(message["body"]) > 90_000 and "Hi Grace," in message["body"] and "{{" not in message["body"]


async def test_a_send_whose_content_no_longer_matches_its_digest_fails_its_step_only(stack: Stack) -> None:
    """Versions never change; should a stored one be altered all the same, a
    send does not go out with content the enrollment was not started with."""
    automation = await stack.automation([wait("pause", "PT1H"), html_email("altered", 1000), wait("after")])
    contact = await stack.contact()
    enrollment = await stack.enroll(automation, contact)
    await stack.at(enrollment, "pause")
    version = await stack.get(f"/automations/{automation}/versions/1")
    version["steps"][1]["body"] = "Not what was published"
    with Session(stack.engine) as session:
        session.exec(  # type: ignore[call-overload]
            update(AutomationVersion)
            .where(col(AutomationVersion.automation_id) == automation)
            .values(definition={k: version[k] for k in ("name", "reentry", "steps")})
        )
        session.commit()
    await stack.skip(timedelta(hours=2))
    state = await stack.at(enrollment, "after")
    failed = [h for h in state["history"] if h["step_id"] == "altered"]
    assert [h["outcome"] for h in failed] == ["failed"]
    assert "not the one this enrollment was started with" in failed[0]["detail"]["error"]
    assert await stack.get(f"/contacts/{contact}/messages") == []


async def test_enrollments_started_with_the_whole_definition_keep_running(stack: Stack) -> None:
    """Before content by reference the input carried the whole version, content
    included: such an input is accepted, and its sends fetch their content."""
    automation = await stack.automation([html_email("hello", 2000), wait("pause", "PT1H")])
    contact = await stack.contact(first_name="Ada")
    definition = await stack.get(f"/automations/{automation}/versions/1")
    enrollment = f"{automation}.{contact}.1"
    old_input = {
        "enrollment_id": enrollment, "automation_id": automation, "version": 1, "contact_id": contact,
        "seq": 1, "enrolled_at": utcnow().isoformat(), "state": None,
        "automation": {k: definition[k] for k in ("name", "reentry", "steps")},
    }  # fmt: skip
    await stack.client.start_workflow(
        WORKFLOW_NAME,
        old_input,
        id=enrollment,
        task_queue=stack.task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
    )
    assert b"Product 1" in await input_bytes(stack, enrollment)
    state = await stack.at(enrollment, "pause")
    assert [h["outcome"] for h in state["history"] if h["step_id"] == "hello"] == ["done"]
    (message,) = await stack.get(f"/contacts/{contact}/messages")
    assert message["subject"] == "hello for Ada" and "Hi Ada," in message["body"]


async def test_a_definition_of_16_emails_of_150_kb_saves_and_enrolls(stack: Stack) -> None:
    """2.4 MB of content: once refused by Temporal on every enrollment."""
    steps = [html_email(f"mail{i}", 150_000) for i in range(16)]
    automation = await stack.automation(steps)
    enrollment = await stack.enroll(automation, await stack.contact())
    state = await stack.until(enrollment, lambda s: s["status"] == "completed", within=60)
    assert len(state["messages"]) == 16
    assert len(await input_bytes(stack, enrollment)) < 5_000


async def test_a_template_over_1_mib_gets_422_naming_the_step_and_the_limit(stack: Stack) -> None:
    steps = [html_email("small", 1000), {**html_email("huge", 1000), "body": "x" * (TEMPLATE_BYTES + 1)}]
    response = await stack.http.post("/automations", json={"name": "big", "steps": steps})
    assert response.status_code == 422, response.text
    (problem,) = response.json()["detail"]
    assert problem["loc"] == ["body", "steps", 1, "body"]
    assert problem["msg"] == (
        "step 'huge': body is 1,048,577 bytes; a template may be at most 1,048,576 bytes (1 MiB)"
    )


async def test_a_structure_too_big_for_a_workflow_input_gets_422_naming_the_limit(stack: Stack) -> None:
    links = [f"lnk_{i:06d}_{'x' * 40}" for i in range(STRUCTURE_BYTES // 40)]
    steps = [{"id": "clicked", "type": "goal", "criteria": [{"type": "link.clicked", "links": links}]}]
    response = await stack.http.post("/automations", json={"name": "wide", "steps": steps})
    assert response.status_code == 422, response.text
    (problem,) = response.json()["detail"]
    assert problem["loc"] == ["body", "steps"]
    assert problem["msg"].endswith("the limit is 262,144 bytes (256 KiB)")
    assert "structure" in problem["msg"]


async def test_a_definition_over_16_mib_gets_413(stack: Stack) -> None:
    steps = [html_email(f"m{i}", 1000) for i in range(17)]
    for step in steps:
        step["body"] = "x" * (DEFINITION_BYTES // 16)
    response = await stack.http.post("/automations", json={"name": "huge", "steps": steps})
    assert response.status_code == 413
    assert response.json()["detail"].endswith("the limit is 16,777,216 bytes (16 MiB)")


async def test_a_streamed_body_over_16_mib_is_refused_before_it_is_read_whole(stack: Stack) -> None:
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:  # No Content-Length: the body is streamed.
        nonlocal sent
        yield b'{"name": "streamed", "steps": [{"id": "s", "type": "send_email", "subject": "s", "body": "'
        for _ in range(64):
            sent += 1
            yield b"x" * (MiB // 2)
        yield b'"}]}'

    response = await stack.http.post("/automations", content=chunks())
    assert response.status_code == 413
    assert response.json()["detail"].endswith("the limit is 16,777,216 bytes (16 MiB)")
    assert sent < 40  # It stopped reading once past the limit.


async def test_an_event_over_256_kib_gets_413_and_is_not_stored(stack: Stack) -> None:
    contact = await stack.contact()
    enrollment = await stack.enroll(await stack.automation([wait("pause")]), contact)
    await stack.at(enrollment, "pause")
    event_id = f"ev_{uuid.uuid4().hex}"
    big = {
        "id": event_id,
        "contact_id": contact,
        "type": "custom",
        "data": {"name": "x", "blob": "x" * EVENT_BYTES},
    }
    response = await stack.http.post("/events", json=big)
    assert response.status_code == 413
    assert response.json()["detail"].endswith("the limit is 262,144 bytes (256 KiB)")
    # Not stored: the same id is new when it comes back within the limit.
    small = {**big, "data": {"name": "x", "blob": "x" * (EVENT_BYTES - 1000)}}
    assert (await stack.http.post("/events", json=small)).status_code == 202
    state = await stack.received(enrollment, 1)
    assert state["status"] == "running"


async def test_an_enrollment_is_signalled_what_criteria_read_of_an_event(stack: Stack) -> None:
    """An event's other data stays in the database: histories stay small."""
    contact = await stack.contact()
    steps = [{"id": "seen", "type": "wait_for_event", "timeout": "P1D",
              "criteria": [{"type": "custom", "name": "viewed", "value": "pricing"}]}]  # fmt: skip
    enrollment = await stack.enroll(await stack.automation(steps), contact)
    await stack.at(enrollment, "seen")
    await stack.event(contact, "custom", name="viewed", value="pricing", page="x" * 200_000)
    state = await stack.until(enrollment, lambda s: s["status"] == "completed")
    assert [h["outcome"] for h in state["history"] if h["step_id"] == "seen"] == ["waiting", "event_matched"]
    history = await stack.client.get_workflow_handle(enrollment).fetch_history()
    (signal,) = [
        e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
    ]
    payload = signal.workflow_execution_signaled_event_attributes.input.payloads[0].data
    assert len(payload) < 1_000 and json.loads(payload)["data"] == {"name": "viewed", "value": "pricing"}
