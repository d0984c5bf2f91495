"""`wait`: hold the contact for a duration, until a moment, or until a window opens."""

from typing import Literal

from shared.domain.durations import Duration
from shared.domain.steps.base import Branch, Flow, Problem, StepBase
from shared.domain.times import AwareDateTime
from shared.domain.windows import SendWindow


class Wait(StepBase):
    type: Literal["wait"]
    duration: Duration | None = None
    until: AwareDateTime | None = None
    # Until the window is open, in the contact's time zone (at once if it is).
    window: SendWindow | None = None

    def branches(self) -> list[Branch]:
        return [Branch(None, "next", waits=True)]

    def problems(self, position: int, flow: Flow) -> list[Problem]:
        if [self.duration, self.until, self.window].count(None) != 2:
            return [self.problem(position, "duration", "give exactly one of duration, until and window")]
        return []


MODEL = Wait
