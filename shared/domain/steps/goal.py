"""`goal`: where a contact that meets the criteria is pulled to, from wherever
it is (SPEC §3); reached unmet, it ends, continues or waits."""

from typing import Literal

from pydantic import Field

from shared.domain.criteria import Criterion
from shared.domain.durations import Duration
from shared.domain.steps.base import Branch, Flow, Problem, StepBase, StepId, criteria_problems


class Goal(StepBase):
    type: Literal["goal"]
    criteria: list[Criterion] = Field(min_length=1)
    if_unmet: Literal["end", "continue", "wait"] = "continue"
    timeout: Duration | None = None
    # A step id, or `end`; by default the contact goes on after the goal.
    on_timeout: StepId | None = None

    def branches(self) -> list[Branch]:
        # A met goal passes at once; its timeout branch is taken only after waiting.
        return [Branch(None, "next"), Branch(self.on_timeout, "on_timeout", waits=self.if_unmet == "wait")]

    def problems(self, position: int, flow: Flow) -> list[Problem]:
        problems = []
        if self.if_unmet != "wait" and (self.timeout or self.on_timeout):
            problems.append(self.problem(position, "timeout", "timeout applies only to if_unmet 'wait'"))
        return problems + criteria_problems(self, position, flow, self.criteria)


MODEL = Goal
