"""`create_deal` in the workflow: the activity renders the name and makes the
deal, once per step run."""

from shared.domain.steps.base import Planned
from worker.steps.base import Enrollment
from worker.steps.crm import CrmInput, CrmResult, crm_input, recorded


class DealInput(CrmInput):
    digest: str | None
    pipeline: str
    stage: str
    amount: float | None = None
    owner: str | None = None


async def run(enrollment: Enrollment, step: Planned) -> int | None:
    # The plan's form of the step: no name (it is content), its digest.
    deal = DealInput(
        **crm_input(enrollment, step),
        digest=step.digest,
        pipeline=step.pipeline,  # type: ignore[attr-defined]
        stage=step.stage,  # type: ignore[attr-defined]
        amount=step.amount,  # type: ignore[attr-defined]
        owner=step.owner,  # type: ignore[attr-defined]
    )
    return recorded(enrollment, step, await enrollment.local("create_deal", deal, CrmResult, step))
