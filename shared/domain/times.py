"""Times in JSON are ISO 8601 text, as the OpenAPI says (`format: date-time`):
pydantic alone would also take a number, as seconds since 1970."""

from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BeforeValidator


def _text(value: object) -> object:
    if isinstance(value, str | datetime):
        return value
    raise ValueError("must be an ISO 8601 date-time string such as '2026-01-31T09:00:00Z'")


DateTime = Annotated[datetime, BeforeValidator(_text)]
AwareDateTime = Annotated[AwareDatetime, BeforeValidator(_text)]
