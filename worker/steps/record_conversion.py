"""`record_conversion` in the workflow: the activity records the conversion
and its `conversion` event, which the enrollment running the step applies at
once (a goal on it in this very automation is met)."""

from pydantic import BaseModel

from shared.domain.events import Event
from shared.domain.steps.record_conversion import RecordConversion
from worker.steps.base import Enrollment


class ConversionInput(BaseModel):
    key: str
    enrollment_id: str
    automation_id: str
    version: int
    step_id: str
    contact_id: str
    name: str
    value: float | None = None
    currency: str | None = None
    # The last message the enrollment sent the contact before the step, if any:
    # what the conversion is attributed to. Known here, in the workflow's state.
    message_id: str | None = None


class ConversionResult(BaseModel):
    events: list[Event]


async def run(enrollment: Enrollment, step: RecordConversion) -> int | None:
    entry = enrollment.input
    messages = enrollment.state.messages
    conversion = ConversionInput(
        key=enrollment.key(step),
        enrollment_id=entry.enrollment_id,
        automation_id=entry.automation_id,
        version=entry.version,
        step_id=step.id,
        contact_id=entry.contact_id,
        name=step.name,
        value=step.value,
        currency=step.currency,
        message_id=messages[-1].message_id if messages else None,
    )
    result = await enrollment.local("record_conversion", conversion, ConversionResult, step)
    detail = conversion.model_dump(include={"name", "value", "currency"}, exclude_none=True)
    enrollment.record(step.id, "done", **detail, message_id=conversion.message_id)
    for event in result.events:
        enrollment.on_event(event)
    return enrollment.after(step)
