"""`add_tag` and `remove_tag` in the workflow: a real change is an event (G9),
which the enrollment running the step applies at once."""

from pydantic import BaseModel

from shared.domain.events import Event
from shared.domain.steps.add_tag import AddTag
from shared.domain.steps.remove_tag import RemoveTag
from worker.steps.base import Enrollment

TAG_EVENTS_APPLIED_HERE = "tag-events-applied-here"


class TagInput(BaseModel):
    key: str
    contact_id: str
    tag: str
    add: bool
    # The enrollment running the step: it applies the event from the result, so
    # it is not signalled. None in runs recorded before that (`tag-events-applied-here`).
    enrollment_id: str | None = None


class TagResult(BaseModel):
    changed: bool
    events: list[Event]


async def run(enrollment: Enrollment, step: AddTag | RemoveTag) -> int | None:
    tag = TagInput(
        key=enrollment.key(step),
        contact_id=enrollment.input.contact_id,
        tag=step.tag,
        add=isinstance(step, AddTag),
    )
    events: list[Event] = []
    if enrollment.patched(TAG_EVENTS_APPLIED_HERE):
        here = tag.model_copy(update={"enrollment_id": enrollment.input.enrollment_id})
        result = await enrollment.local("change_tag", here, TagResult, step)
        changed, events = result.changed, result.events
    else:  # Runs recorded before: the event came back as a signal.
        changed = await enrollment.local("change_tag", tag, bool, step)
    enrollment.record(
        step.id,
        "done" if changed else "skipped",
        **({} if changed else {"reason": "tag already in that state"}),
    )
    for event in events:
        enrollment.on_event(event)
    return enrollment.after(step)
