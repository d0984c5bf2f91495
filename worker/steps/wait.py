"""`wait` in the workflow: a durable timer, cut short by a goal or a removal."""

from temporalio import workflow

from shared.domain.steps.wait import Wait
from worker.steps.base import Enrollment


async def run(enrollment: Enrollment, step: Wait) -> int | None:
    state = enrollment.state
    if not state.waiting:
        state.deadline = step.until or workflow.now() + step.duration  # type: ignore[operator]
        enrollment.start_holding(step, until=state.deadline.isoformat())
    if await enrollment.hold(step):
        enrollment.record(step.id, "done")
    return enrollment.after(step)
