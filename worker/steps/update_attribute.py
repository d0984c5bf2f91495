"""`update_attribute` in the workflow: the activity changes it and reports old and new."""

from typing import Any, Literal

from pydantic import BaseModel

from shared.domain.steps.update_attribute import UpdateAttribute
from worker.steps.base import Enrollment


class AttributeInput(BaseModel):
    key: str
    contact_id: str
    attribute: str
    op: Literal["set", "unset", "increment", "decrement"]
    value: Any = None


async def run(enrollment: Enrollment, step: UpdateAttribute) -> int | None:
    change = AttributeInput(
        key=enrollment.key(step),
        contact_id=enrollment.input.contact_id,
        attribute=step.attribute,
        op=step.op,
        value=step.value,
    )
    value = await enrollment.local("update_attribute", change, dict[str, Any], step)
    enrollment.record(step.id, "done", **value)
    return enrollment.after(step)
