"""`update_attribute`: set, unset, increment or decrement a contact attribute."""

from typing import Any, Literal

from pydantic import Field

from shared.domain.steps.base import StepBase


class UpdateAttribute(StepBase):
    type: Literal["update_attribute"]
    attribute: str = Field(min_length=1, max_length=200)
    op: Literal["set", "unset", "increment", "decrement"] = "set"
    value: Any = None


MODEL = UpdateAttribute
