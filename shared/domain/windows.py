"""Send windows: the days and hours, in the contact's time zone, when messages
may go out. A send waits for its window; it is not skipped."""

from datetime import datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, model_validator

Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HH_MM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


class SendWindow(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    days: list[Day] = Field(default=list(DAYS), min_length=1)
    start: str = Field(default="00:00", pattern=_HH_MM)
    # Exclusive; "24:00" is not a time, so a window to midnight ends at "23:59".
    end: str = Field(default="23:59", pattern=_HH_MM)

    @model_validator(mode="after")
    def _order(self) -> "SendWindow":
        if self.start >= self.end:
            raise ValueError(f"start ({self.start}) must be before end ({self.end})")
        return self

    def opens(self, now: datetime, zone: str) -> datetime | None:
        """When the window next opens, as an aware UTC-comparable time; None
        when it is open at `now`."""
        local = now.astimezone(ZoneInfo(zone))
        for ahead in range(8):
            day = (local + timedelta(days=ahead)).date()
            if DAYS[day.weekday()] not in self.days:
                continue
            opening = datetime.combine(day, time.fromisoformat(self.start), tzinfo=local.tzinfo)
            closing = datetime.combine(day, time.fromisoformat(self.end), tzinfo=local.tzinfo)
            if ahead == 0 and opening <= local < closing:
                return None
            if opening > local:
                return opening
        raise AssertionError("a window with days opens within a week")
