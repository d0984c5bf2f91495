"""Send windows (README, "Sending rules" 1): when a closed window next opens, in
the contact's time zone. Pure code: `SendWindow.opens` on fixed instants.

March 2026: Monday the 2nd; New York moves its clocks forward on Sunday the
8th (02:00 EST -> 03:00 EDT, 07:00 UTC). November 2026: they go back on Sunday
the 1st (02:00 EDT -> 01:00 EST, 06:00 UTC)."""

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from shared.domain.windows import SendWindow

pytestmark = pytest.mark.unit

WEEKDAYS = SendWindow(days=["mon", "tue", "wed", "thu", "fri"], start="09:00", end="17:00")
NEW_YORK = "America/New_York"


def utc(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def instant(moment: datetime | None) -> datetime | None:
    """`moment` in UTC: compared in its own zone, an aware time is a wall-clock time
    (blind to which of a repeated hour), and in the repeated hour never equal to
    another zone's (PEP 495)."""
    return moment and moment.astimezone(UTC)


def local(zone: str, day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=ZoneInfo(zone))


def test_an_open_window_holds_nothing() -> None:
    wednesday = 4
    assert WEEKDAYS.opens(utc(wednesday, 12), "UTC") is None
    assert WEEKDAYS.opens(utc(wednesday, 9), "UTC") is None  # The start is in the window...
    assert WEEKDAYS.opens(utc(wednesday, 16, 59), "UTC") is None


def test_the_end_is_not_in_the_window() -> None:
    assert WEEKDAYS.opens(utc(4, 17), "UTC") == utc(5, 9)  # ...the end is not.


def test_before_the_start_it_opens_the_same_day() -> None:
    assert WEEKDAYS.opens(utc(4, 7, 30), "UTC") == utc(4, 9)
    assert WEEKDAYS.opens(utc(4, 0), "UTC") == utc(4, 9)


def test_after_the_end_it_opens_on_the_next_day_of_the_window() -> None:
    assert WEEKDAYS.opens(utc(4, 18), "UTC") == utc(5, 9)
    assert WEEKDAYS.opens(utc(4, 23, 59), "UTC") == utc(5, 9)


def test_days_outside_the_window_are_skipped() -> None:
    friday_evening, saturday, sunday_night = utc(6, 17, 30), utc(7, 12), utc(8, 23)
    for now in (friday_evening, saturday, sunday_night):
        assert WEEKDAYS.opens(now, "UTC") == utc(9, 9), now  # Monday
    tuesdays_and_thursdays = SendWindow(days=["tue", "thu"], start="10:00", end="11:00")
    assert tuesdays_and_thursdays.opens(utc(3, 12), "UTC") == utc(5, 10)  # Tuesday, after: Thursday


def test_the_week_wraps_around() -> None:
    mondays = SendWindow(days=["mon"], start="09:00", end="17:00")
    assert mondays.opens(utc(2, 17), "UTC") == utc(9, 9)  # Monday after the end: next Monday
    assert mondays.opens(utc(8, 23, 59), "UTC") == utc(9, 9)  # Sunday night: the next morning
    sundays = SendWindow(days=["sun"], start="09:00", end="17:00")
    assert sundays.opens(utc(8, 17), "UTC") == utc(15, 9)
    assert sundays.opens(utc(9, 0), "UTC") == utc(15, 9)  # Monday: six days on


def test_the_window_is_in_the_contacts_time_zone() -> None:
    noon_utc = utc(4, 12)  # 07:00 in New York, 21:00 in Tokyo
    assert WEEKDAYS.opens(noon_utc, NEW_YORK) == utc(4, 14)  # 09:00 EST
    assert WEEKDAYS.opens(noon_utc, "Asia/Tokyo") == utc(5, 0)  # Thursday 09:00 JST
    evening_utc = utc(4, 21)  # Closed in UTC, 16:00 in New York: open there.
    assert WEEKDAYS.opens(evening_utc, "UTC") is not None
    assert WEEKDAYS.opens(evening_utc, NEW_YORK) is None


def test_the_contacts_weekend_is_its_own() -> None:
    """Friday 16:00 UTC is Saturday 01:00 in Tokyo: the window opens on Tokyo's Monday."""
    assert WEEKDAYS.opens(utc(6, 16), "UTC") is None
    assert WEEKDAYS.opens(utc(6, 16), "Asia/Tokyo") == local("Asia/Tokyo", 9, 9) == utc(9, 0)
    # Monday 02:00 UTC is still Sunday in New York.
    assert WEEKDAYS.opens(utc(9, 2), NEW_YORK) == local(NEW_YORK, 9, 9)


def test_the_answer_reads_in_the_contacts_time_zone() -> None:
    """The history shows the hold's end as the contact's wall clock, with its offset."""
    opens = WEEKDAYS.opens(utc(4, 12), NEW_YORK)
    assert opens is not None and opens.isoformat() == "2026-03-04T09:00:00-05:00"


def test_across_a_change_of_clocks_it_opens_at_the_local_start() -> None:
    """Friday evening before the change, the window opens on Monday at 09:00 EDT
    (13:00 UTC), not at 09:00 EST; on the days of the changes themselves too."""
    assert WEEKDAYS.opens(local(NEW_YORK, 6, 18), NEW_YORK) == utc(9, 13)
    every_day = SendWindow(start="09:00", end="17:00")
    forward = local(NEW_YORK, 8, 0, 30)  # EST, before the change
    assert every_day.opens(forward, NEW_YORK) == utc(8, 13)
    back = local(NEW_YORK, 1, 0, 30, month=11)  # EDT, before the change
    assert every_day.opens(back, NEW_YORK) == utc(1, 14, month=11)


def test_a_start_the_clocks_skip_opens_when_they_jump_past_it() -> None:
    """02:30 does not happen on March 8th in New York: the window opens at the
    jump, 03:00 EDT, and is open then; not at 03:30, when it has closed."""
    night = SendWindow(days=["sun"], start="02:30", end="03:30")
    opens = night.opens(local(NEW_YORK, 8, 1), NEW_YORK)
    assert opens == utc(8, 7) and opens.isoformat() == "2026-03-08T03:00:00-04:00"
    assert night.opens(opens, NEW_YORK) is None
    assert night.opens(utc(8, 7, 30), NEW_YORK) == local(NEW_YORK, 15, 2, 30)


def test_the_hour_the_clocks_repeat_opens_the_window_again() -> None:
    """01:00-01:30 happens twice on November 1st in New York: after the first
    (EDT), the window opens again at the second (EST), not a week later."""
    night = SendWindow(days=["sun"], start="01:00", end="01:30")
    assert night.opens(utc(1, 5, 10, month=11), NEW_YORK) is None  # 01:10 EDT
    again = night.opens(utc(1, 5, 40, month=11), NEW_YORK)  # 01:40 EDT
    assert (
        instant(again) == utc(1, 6, month=11)
        and again is not None
        and again.isoformat() == "2026-11-01T01:00:00-05:00"
    )
    assert night.opens(utc(1, 6, 10, month=11), NEW_YORK) is None  # 01:10 EST
    assert night.opens(utc(1, 6, 40, month=11), NEW_YORK) == local(NEW_YORK, 8, 1, month=11)


CASES = [
    (WEEKDAYS, NEW_YORK),
    (SendWindow(days=["sun"], start="02:30", end="03:30"), NEW_YORK),
    (SendWindow(days=["sun", "mon"], start="01:00", end="01:30"), NEW_YORK),
    (SendWindow(days=["fri"], start="00:00", end="23:59"), "Africa/Cairo"),  # Clocks jump at midnight.
    (SendWindow(days=["sun"], start="01:45", end="02:15"), "Australia/Lord_Howe"),  # 30-minute changes
    (SendWindow(days=["wed"], start="23:00", end="23:59"), "Asia/Kolkata"),
]


@pytest.mark.parametrize(("window", "zone"), CASES, ids=[f"{w.start}-{w.end} {z}" for w, z in CASES])
@pytest.mark.parametrize("start", [utc(1, 0, month=month) for month in (3, 4, 10)] + [utc(20, 0, month=4)])
def test_where_it_says_it_opens_it_is_open_and_not_before(
    window: SendWindow, zone: str, start: datetime
) -> None:
    """Fortnights around the changes of clocks (in March and October: New York's,
    Lord Howe's; in April: Lord Howe's, Cairo's), every 7 minutes: the answer is later
    than now and open, a second before it is closed, and it stays the answer
    until then (nothing in between is open)."""
    now, answer = start, None
    while now < start + timedelta(days=15):
        opens = instant(window.opens(now, zone))
        if answer is not None and now < answer:
            assert opens == answer, now
        if opens is not None:
            assert opens > now and window.opens(opens, zone) is None, (now, opens)
            before = opens - timedelta(seconds=1)
            assert instant(window.opens(before, zone)) == opens, (now, opens)
        answer = opens
        now += timedelta(minutes=7)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"start": "17:00", "end": "09:00"}, "must be before end"),
        ({"start": "09:00", "end": "09:00"}, "must be before end"),
        ({"end": "24:00"}, "should match pattern"),
        ({"start": "9:00"}, "should match pattern"),
        ({"days": []}, "at least 1 item"),
        ({"days": ["monday"]}, "'mon', 'tue'"),
        ({"from": "09:00"}, "Extra inputs are not permitted"),
    ],
)
def test_a_window_that_cannot_be_is_refused(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        SendWindow.model_validate(fields)
