"""`go_to` in the workflow."""

from shared.domain.steps.go_to import GoTo
from worker.steps.base import Enrollment


async def run(enrollment: Enrollment, step: GoTo) -> int | None:
    enrollment.record(step.id, "done", target=step.target)
    return enrollment.automation.index(step.target)
