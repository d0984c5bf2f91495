"""`if_else`: branch on the contact's tags, attributes, lists and event history."""

from typing import Literal

from pydantic import ConfigDict, Field

from shared.domain.conditions import Condition
from shared.domain.steps.base import Branch, StepBase, StepId


class IfElse(StepBase):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    type: Literal["if_else"]
    condition: Condition
    then: StepId | None = None
    else_: StepId | None = Field(default=None, alias="else")

    def branches(self) -> list[Branch]:
        return [Branch(self.then, "then"), Branch(self.else_, "else")]


MODEL = IfElse
