"""`wait_for_event` in the workflow: held until a matching event or the timeout."""

from temporalio import workflow

from shared.domain.criteria import matches
from shared.domain.events import Event
from shared.domain.steps.wait_for_event import WaitForEvent
from worker.steps.base import Enrollment


def meets(enrollment: Enrollment, step: WaitForEvent, event: Event) -> bool:
    sent = {m.message_id: m.step_id for m in enrollment.state.messages}
    return any(matches(c, event, sent) for c in step.criteria)


async def run(enrollment: Enrollment, step: WaitForEvent) -> int | None:
    state = enrollment.state
    if not state.waiting:
        state.deadline = workflow.now() + step.timeout
        state.wait_matched = None
        if step.since == "enrollment":
            earlier = next((e for e in state.event_log if meets(enrollment, step, e)), None)
            state.wait_matched = earlier.id if earlier else None
        enrollment.start_holding(step, until=state.deadline.isoformat())
    timed_out = await enrollment.hold(step, lambda: state.wait_matched is not None)
    if state.wait_matched is not None:
        enrollment.record(step.id, "event_matched", event_id=state.wait_matched)
        return enrollment.branch(step, step.on_event)
    if timed_out:
        enrollment.record(step.id, "timed_out")
        return enrollment.branch(step, step.on_timeout)
    return None
