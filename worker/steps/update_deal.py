"""`update_deal` in the workflow: a new stage of the deal this enrollment made
is an event, which this enrollment applies at once (as a tag step's, G9)."""

from shared.domain.steps.update_deal import UpdateDeal
from worker.steps.base import Enrollment
from worker.steps.crm import CrmInput, CrmResult, crm_input, recorded


class StageInput(CrmInput):
    stage: str


async def run(enrollment: Enrollment, step: UpdateDeal) -> int | None:
    change = StageInput(**crm_input(enrollment, step), stage=step.stage)
    return recorded(enrollment, step, await enrollment.local("update_deal", change, CrmResult, step))
