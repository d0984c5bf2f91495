"""CRM (issue 14): users, deals and tasks, as requests and steps name them,
and the event a deal's stage change is (pure)."""

from datetime import datetime
from typing import Annotated

from pydantic import Field

from shared.domain.events import Event

# A pipeline's, a stage's, a deal's or a task's name.
Name = Annotated[str, Field(min_length=1, max_length=200)]
# What a deal is worth: a finite number, never below zero; a JSON number only
# (strict: `false` or `"10"` are not amounts).
Amount = Annotated[float, Field(ge=0, allow_inf_nan=False, strict=True)]
# A rendered deal name or task title longer than a Name is cut to it.
NAME_CHARS = 200


def stage_changed(
    event_id: str, contact_id: str, deal_id: str, pipeline: str, old: str, new: str, at: datetime
) -> Event:
    """A deal moved from stage `old` to `new`: what `deal.stage` criteria read."""
    return Event(
        id=event_id,
        contact_id=contact_id,
        type="deal.stage_changed",
        occurred_at=at,
        data={"deal_id": deal_id, "pipeline": pipeline, "from": old, "to": new},
    )
