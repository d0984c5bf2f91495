"""`end`: the enrollment completes here."""

from typing import Literal

from shared.domain.steps.base import Branch, StepBase


class End(StepBase):
    type: Literal["end"]

    def branches(self) -> list[Branch]:
        return []


MODEL = End
