"""`wait`: hold the contact for a duration, or until a moment."""

from typing import Literal

from pydantic import AwareDatetime

from shared.domain.durations import Duration
from shared.domain.steps.base import Branch, Flow, Problem, StepBase


class Wait(StepBase):
    type: Literal["wait"]
    duration: Duration | None = None
    until: AwareDatetime | None = None

    def branches(self) -> list[Branch]:
        return [Branch(None, "next", waits=True)]

    def problems(self, position: int, flow: Flow) -> list[Problem]:
        if (self.duration is None) == (self.until is None):
            return [self.problem(position, "duration", "give exactly one of duration and until")]
        return []


MODEL = Wait
