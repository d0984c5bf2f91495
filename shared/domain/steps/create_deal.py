"""`create_deal`: a deal for the contact, its `name` a template rendered with
the contact's merge fields (as email subjects are)."""

from typing import Literal

from pydantic import Field

from shared.domain.crm import Amount, Name
from shared.domain.ids import Id
from shared.domain.merge_fields import EVERY_CONTACT_HAS, skip_warnings
from shared.domain.steps.base import StepBase


class CreateDeal(StepBase):
    # The name stays in the database; the plan carries its digest.
    CONTENT = ("name",)
    TEMPLATES = ("name",)

    type: Literal["create_deal"]
    name: str = Field(min_length=1)
    pipeline: Name
    stage: Name
    amount: Amount | None = None
    # A user id; checked when the step runs (users may come after the automation).
    owner: Id | None = None

    def warnings(self) -> list[str]:
        return skip_warnings(self.id, (self.name,), EVERY_CONTACT_HAS)


MODEL = CreateDeal
