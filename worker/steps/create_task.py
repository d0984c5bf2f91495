"""`create_task` in the workflow: due `due_in` after the step runs, on the
workflow's clock (the time Temporal keeps, which retries and replays share)."""

from datetime import datetime

from temporalio import workflow

from shared.domain.steps.base import Planned
from worker.steps.base import Enrollment
from worker.steps.crm import CrmInput, CrmResult, crm_input, recorded


class TaskInput(CrmInput):
    digest: str | None
    due_at: datetime | None = None
    # None: the contact's owner.
    assignee: str | None = None


async def run(enrollment: Enrollment, step: Planned) -> int | None:
    due_in = step.due_in  # type: ignore[attr-defined]
    task = TaskInput(
        **crm_input(enrollment, step),
        digest=step.digest,
        due_at=workflow.now() + due_in if due_in else None,
        assignee=step.assignee,  # type: ignore[attr-defined]
    )
    return recorded(enrollment, step, await enrollment.local("create_task", task, CrmResult, step))
