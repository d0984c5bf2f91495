"""What tests build automations and read enrollments with: one module for all tiers."""

from datetime import timedelta
from typing import Any

from bench.content import newsletter_html
from tests.conftest import Stack

DAY = timedelta(days=1)


def email(step_id: str, subject: str = "Hello {{ contact.first_name }}") -> dict[str, Any]:
    return {"id": step_id, "type": "send_email", "subject": subject, "body": "Body"}


def wait(step_id: str, duration: str = "P3D") -> dict[str, Any]:
    return {"id": step_id, "type": "wait", "duration": duration}


def goal(step_id: str, *criteria: dict[str, Any], **options: Any) -> dict[str, Any]:
    return {"id": step_id, "type": "goal", "criteria": list(criteria), **options}


def tag_added(tag: str) -> dict[str, Any]:
    return {"type": "tag.added", "tag": tag}


NURTURE = [
    email("welcome"),
    wait("pause", "P3D"),
    email("followup"),
    wait("pause2", "P3D"),
    goal("purchased", tag_added("bought"), if_unmet="wait", timeout="P30D", on_timeout="end"),
    {"id": "thanks", "type": "add_tag", "tag": "customer"},
]


def html_email(step_id: str, size: int = 100_000) -> dict[str, Any]:
    return {
        "id": step_id,
        "type": "send_email",
        "subject": f"{step_id} for {{{{ contact.first_name }}}}",
        "body": newsletter_html(size, title=step_id),
    }


async def input_bytes(stack: Stack, enrollment: str) -> bytes:
    """The payload of the enrollment's workflow input, as Temporal stored it."""
    history = await stack.client.get_workflow_handle(enrollment).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    return b"".join(p.data for p in started.input.payloads)
