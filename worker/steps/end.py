"""`end` in the workflow."""

from shared.domain.steps.end import End
from worker.steps.base import Enrollment


async def run(enrollment: Enrollment, step: End) -> int | None:
    enrollment.end("completed", f"reached end step '{step.id}'")
    return None
