"""`add_tag`: tag the contact; a real change is a `tag.added` event (G9)."""

from typing import Literal

from pydantic import Field

from shared.domain.steps.base import StepBase


class AddTag(StepBase):
    type: Literal["add_tag"]
    tag: str = Field(min_length=1, max_length=200)


MODEL = AddTag
