"""`assign_user`: make a user the contact's owner: `user`, or one of `users`
in turn (`round_robin`: a rotation per automation version and step)."""

from typing import Literal

from pydantic import Field

from shared.domain.ids import Id
from shared.domain.steps.base import Flow, Problem, StepBase


class AssignUser(StepBase):
    type: Literal["assign_user"]
    user: Id | None = None
    # A user listed twice gets two turns of each round.
    users: list[Id] | None = Field(default=None, min_length=1, max_length=100)
    strategy: Literal["round_robin"] = "round_robin"

    def problems(self, position: int, flow: Flow) -> list[Problem]:
        if (self.user is None) == (self.users is None):
            return [self.problem(position, "user", "give either user, or users (taken in turn)")]
        return []


MODEL = AssignUser
