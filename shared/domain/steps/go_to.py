"""`go_to`: jump to another step."""

from typing import Literal

from shared.domain.steps.base import Branch, StepBase, StepId


class GoTo(StepBase):
    type: Literal["go_to"]
    target: StepId

    def branches(self) -> list[Branch]:
        return [Branch(self.target, "target", may_end=False)]


MODEL = GoTo
