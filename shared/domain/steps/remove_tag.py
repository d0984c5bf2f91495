"""`remove_tag`: untag the contact; a real change is a `tag.removed` event (G9)."""

from typing import Literal

from pydantic import Field

from shared.domain.steps.base import StepBase


class RemoveTag(StepBase):
    type: Literal["remove_tag"]
    tag: str = Field(min_length=1, max_length=200)


MODEL = RemoveTag
