"""`record_conversion`: a named conversion, with an optional value and
currency, attributed to the automation, its version and the step, and to the
last message the enrollment sent before it. It is also a `conversion` event,
which goals and `wait_for_event` can wait for."""

from typing import Literal

from pydantic import Field

from shared.domain.steps.base import StepBase

# Far beyond any price, and whole amounts stay exact in a double: what the database keeps.
VALUE_BOUND = 10**15


class RecordConversion(StepBase):
    type: Literal["record_conversion"]
    name: str = Field(min_length=1, max_length=200)
    # Strict: a number in JSON, never `true` or "49.5" (the JSON Schema says so).
    value: float | None = Field(
        default=None, ge=-VALUE_BOUND, le=VALUE_BOUND, allow_inf_nan=False, strict=True
    )
    # ISO 4217 (`EUR`); values are summed per name whatever their currency.
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")


MODEL = RecordConversion
