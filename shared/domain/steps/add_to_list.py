"""`add_to_list`: put the contact on a list; a real change is a `list.joined` event.

The list is not looked up when the definition is saved, as `list.joined`
triggers and `{"list": id}` conditions are not: a list may be made later. A
step that runs while its list does not exist fails, naming it."""

from typing import Literal

from shared.domain.ids import Id
from shared.domain.steps.base import StepBase


class AddToList(StepBase):
    type: Literal["add_to_list"]
    list: Id


MODEL = AddToList
