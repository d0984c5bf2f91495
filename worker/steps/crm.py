"""What the CRM steps (`create_deal`, `update_deal`, `create_task`,
`assign_user`) share in the workflow: their activity's input and answer, and
how the answer is recorded. Each is one local activity, idempotent per step run."""

from typing import Any, Literal

from pydantic import BaseModel

from shared.domain.events import Event
from worker.steps.base import Enrollment


class CrmInput(BaseModel):
    key: str
    enrollment_id: str
    contact_id: str
    # The step's content (a template) is fetched from here and checked against the plan's digest.
    automation_id: str
    version: int
    step_id: str


class CrmResult(BaseModel):
    outcome: Literal["done", "skipped"]
    # What the history entry says: the deal, task or user; a skip's reason.
    detail: dict[str, Any] = {}
    # The events the step caused (a deal's new stage): stored, signalled to the
    # contact's other enrollments, and applied by this one from here, at once (G9).
    events: list[Event] = []


def crm_input(enrollment: Enrollment, step: Any) -> dict[str, Any]:
    """The fields every CRM step's input has."""
    entry = enrollment.input
    return {
        "key": enrollment.key(step),
        "enrollment_id": entry.enrollment_id,
        "contact_id": entry.contact_id,
        "automation_id": entry.automation_id,
        "version": entry.version,
        "step_id": step.id,
    }


def recorded(enrollment: Enrollment, step: Any, result: CrmResult) -> int | None:
    enrollment.record(step.id, result.outcome, **result.detail)
    for event in result.events:
        enrollment.on_event(event)
    return enrollment.after(step)
