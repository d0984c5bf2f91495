"""`update_deal`: move the deal this enrollment created (its latest) to `stage`;
a real change is a `deal.stage_changed` event."""

from typing import Literal

from shared.domain.crm import Name
from shared.domain.steps.base import StepBase


class UpdateDeal(StepBase):
    type: Literal["update_deal"]
    stage: Name


MODEL = UpdateDeal
