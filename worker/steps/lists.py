"""`add_to_list` and `remove_from_list` in the workflow: a real change is a
`list.joined` or `list.left` event, which the enrollment running the step
applies at once (as a tag step's, `worker.steps.tags`)."""

from pydantic import BaseModel

from shared.domain.events import Event
from shared.domain.steps.add_to_list import AddToList
from shared.domain.steps.remove_from_list import RemoveFromList
from worker.steps.base import Enrollment


class ListInput(BaseModel):
    key: str
    contact_id: str
    list_id: str
    join: bool
    # The enrollment running the step: it applies the event from the result, so
    # it is not signalled.
    enrollment_id: str


class ListResult(BaseModel):
    changed: bool
    events: list[Event]


async def run(enrollment: Enrollment, step: AddToList | RemoveFromList) -> int | None:
    join = isinstance(step, AddToList)
    change = ListInput(
        key=enrollment.key(step),
        contact_id=enrollment.input.contact_id,
        list_id=step.list,
        join=join,
        enrollment_id=enrollment.input.enrollment_id,
    )
    result = await enrollment.local("change_list", change, ListResult, step)
    if result.changed:
        enrollment.record(step.id, "done", list_id=step.list)
    else:
        why = "already a member of the list" if join else "not a member of the list"
        enrollment.record(step.id, "skipped", reason=why, list_id=step.list)
    for event in result.events:
        enrollment.on_event(event)
    return enrollment.after(step)
