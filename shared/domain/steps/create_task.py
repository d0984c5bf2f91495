"""`create_task`: a task about the contact for a user, due `due_in` after the
step runs. Its `title` is a template, like a deal's name."""

from typing import Literal

from pydantic import Field

from shared.domain.durations import Duration
from shared.domain.ids import Id
from shared.domain.merge_fields import EVERY_CONTACT_HAS, skip_warnings
from shared.domain.steps.base import StepBase


class CreateTask(StepBase):
    CONTENT = ("title",)
    TEMPLATES = ("title",)

    type: Literal["create_task"]
    title: str = Field(min_length=1)
    # None: no due date.
    due_in: Duration | None = None
    # A user id; None: the contact's owner (unassigned when it has none).
    assignee: Id | None = None

    def warnings(self) -> list[str]:
        return skip_warnings(self.id, (self.title,), EVERY_CONTACT_HAS)


MODEL = CreateTask
