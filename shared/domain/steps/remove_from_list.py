"""`remove_from_list`: take the contact off a list; a real change is a
`list.left` event. The list is looked up when the step runs (`add_to_list`)."""

from typing import Literal

from shared.domain.ids import Id
from shared.domain.steps.base import StepBase


class RemoveFromList(StepBase):
    type: Literal["remove_from_list"]
    list: Id


MODEL = RemoveFromList
