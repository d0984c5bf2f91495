"""Send windows: the days and hours, in the contact's time zone, when messages
may go out. A send waits for its window; it is not skipped."""

from datetime import UTC, date, datetime, time, timedelta
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
        """When the window next opens, in `zone` (an aware time, comparable with
        any other); None when it is open at `now`. The window is what the clocks
        of `zone` read: on the day they go back it opens again in the repeated
        hour, and a start they skip opens it when they jump past it."""
        tz = ZoneInfo(zone)
        local = now.astimezone(tz)
        start, end = time.fromisoformat(self.start), time.fromisoformat(self.end)
        if DAYS[local.weekday()] in self.days and start <= local.time() < end:
            return None
        for ahead in range(8):
            day = local.date() + timedelta(days=ahead)
            if DAYS[day.weekday()] not in self.days:
                continue
            later = [moment for moment in _moments(day, start, tz) if moment > now]
            if later:
                return min(later).astimezone(tz)
        raise AssertionError("a window with days opens within a week")


def _moments(day: date, at: time, zone: ZoneInfo) -> list[datetime]:
    """The instants at which the clocks of `zone` read `at` on `day`: two in the
    hour repeated when they go back; when they skip it, the instant they jump."""
    wall = datetime.combine(day, at)
    both = sorted({wall.replace(tzinfo=zone, fold=fold).astimezone(UTC) for fold in (0, 1)})
    read = [moment for moment in both if moment.astimezone(zone).replace(tzinfo=None) == wall]
    if read:
        return read
    # Skipped: the earlier instant reads before `at`, the later after it. The
    # jump is on a whole second: the first second whose clock reads `at` or later.
    before, after = (int(moment.timestamp()) for moment in both)
    while after - before > 1:
        middle = (before + after) // 2
        if datetime.fromtimestamp(middle, zone).replace(tzinfo=None) >= wall:
            after = middle
        else:
            before = middle
    return [datetime.fromtimestamp(after, UTC)]
