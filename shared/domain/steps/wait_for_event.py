"""`wait_for_event`: hold the contact until an event meets one of the criteria,
or the timeout passes; each outcome may branch."""

from typing import Literal

from pydantic import Field

from shared.domain.criteria import Criterion
from shared.domain.durations import Duration
from shared.domain.steps.base import Branch, Flow, Problem, StepBase, StepId, criteria_problems


class WaitForEvent(StepBase):
    type: Literal["wait_for_event"]
    criteria: list[Criterion] = Field(min_length=1)
    timeout: Duration
    on_event: StepId | None = None
    on_timeout: StepId | None = None
    # `enrollment`: an event earlier in this enrollment already satisfies the wait.
    since: Literal["arrival", "enrollment"] = "arrival"

    def branches(self) -> list[Branch]:
        return [
            Branch(self.on_event, "on_event", waits=True),
            Branch(self.on_timeout, "on_timeout", waits=True),
        ]

    def problems(self, position: int, flow: Flow) -> list[Problem]:
        return criteria_problems(self, position, flow, self.criteria)


MODEL = WaitForEvent
