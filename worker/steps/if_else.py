"""`if_else` in the workflow: the contact is read fresh, the condition is pure."""

from typing import Any

from pydantic import BaseModel

from shared.domain.conditions import evaluate
from shared.domain.steps.if_else import IfElse
from worker.steps.base import Enrollment


class ContactSnapshot(BaseModel):
    tags: list[str]
    attributes: dict[str, Any]


async def run(enrollment: Enrollment, step: IfElse) -> int | None:
    contact = await enrollment.local("load_contact", enrollment.input.contact_id, ContactSnapshot, step)
    result = evaluate(step.condition, set(contact.tags), contact.attributes)
    enrollment.record(step.id, "branched", branch="then" if result else "else")
    return enrollment.branch(step, step.then if result else step.else_)
