"""`wait` in the workflow: a durable timer, cut short by a goal or a removal.
A wait for a window asks when it opens in the contact's time zone."""

from datetime import datetime

from pydantic import BaseModel
from temporalio import workflow

from shared.domain.steps.wait import Wait
from shared.domain.windows import SendWindow
from worker.steps.base import Enrollment


class WindowInput(BaseModel):
    contact_id: str
    window: SendWindow
    # The workflow's time when it asked: the window is judged at this or later.
    asked_at: datetime


async def run(enrollment: Enrollment, step: Wait) -> int | None:
    state = enrollment.state
    if not state.waiting:
        if step.window is not None:
            asked = WindowInput(
                contact_id=enrollment.input.contact_id, window=step.window, asked_at=workflow.now()
            )
            opens = await enrollment.local("window_opens", asked, datetime | None, step)  # type: ignore[arg-type]
            if opens is None:
                enrollment.record(step.id, "done", window="open")
                return enrollment.after(step)
            state.deadline = opens
        else:
            state.deadline = step.until or workflow.now() + step.duration  # type: ignore[operator]
        enrollment.start_holding(step, until=state.deadline.isoformat())
    if await enrollment.hold(step):
        enrollment.record(step.id, "done")
    return enrollment.after(step)
