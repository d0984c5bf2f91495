"""ISO 8601 durations (`shared.domain.durations`) and the event model of SPEC §4
(`shared.domain.events`): pure parsing and validation."""

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from shared.domain.durations import Duration, format_duration, parse_duration, short_duration
from shared.domain.events import Event

pytestmark = pytest.mark.unit

# ---- durations ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("P3D", timedelta(days=3)),
        ("PT10M", timedelta(minutes=10)),
        ("P1W", timedelta(weeks=1)),
        ("PT36H", timedelta(hours=36)),
        ("P1DT2H30M", timedelta(days=1, hours=2, minutes=30)),
        ("PT45S", timedelta(seconds=45)),
        ("P2W3D", timedelta(days=17)),
    ],
)
def test_durations_parse(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["P1M", "P1Y", "P1Y2D", "P2M3DT4H"])
def test_months_and_years_are_refused_with_the_reason(text: str) -> None:
    with pytest.raises(ValueError, match="months and years have no fixed length; use days or weeks"):
        parse_duration(text)


def test_minutes_are_not_mistaken_for_months() -> None:
    assert parse_duration("PT1M") == timedelta(minutes=1)


@pytest.mark.parametrize("text", ["P0D", "PT0S", "PT0M", "P0W"])
def test_zero_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="must be longer than zero"):
        parse_duration(text)


@pytest.mark.parametrize(
    "text", ["", "P", "PT", "P1DT", "3 days", "p3d", "-P3D", "P3", "PT1H2D", "P1.5D", "3D"]
)
def test_malformed_durations_are_refused_with_an_example(text: str) -> None:
    with pytest.raises(ValueError, match=r"not an ISO 8601 duration such as 'P3D' or 'PT10M'"):
        parse_duration(text)


@pytest.mark.parametrize("value", [3, 3.0, None, ["P3D"]])
def test_non_strings_are_refused(value: Any) -> None:
    with pytest.raises(ValueError, match="must be an ISO 8601 duration string"):
        parse_duration(value)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(days=3), "P3D"),
        (timedelta(minutes=10), "PT10M"),
        (timedelta(weeks=1), "P7D"),
        (timedelta(days=1, hours=2, minutes=30, seconds=5), "P1DT2H30M5S"),
        (timedelta(hours=36), "P1DT12H"),
        (timedelta(seconds=59), "PT59S"),
        (timedelta(0), "PT0S"),
    ],
)
def test_durations_format_canonically(value: timedelta, text: str) -> None:
    assert format_duration(value) == text


@pytest.mark.parametrize("text", ["P3D", "PT10M", "P1W", "P1DT2H30M5S", "PT36H", "PT90M"])
def test_formatted_durations_parse_back_to_the_same_length(text: str) -> None:
    value = parse_duration(text)
    assert parse_duration(format_duration(value)) == value


class _Timer(BaseModel):
    after: Duration


def test_a_duration_field_accepts_text_or_timedelta_and_saves_canonical_text() -> None:
    assert _Timer(after="PT90M").after == timedelta(minutes=90)
    assert _Timer(after=timedelta(days=2)).model_dump(mode="json") == {"after": "P2D"}
    assert _Timer(after="PT90M").model_dump(mode="json") == {"after": "PT1H30M"}
    assert _Timer(after="PT90M").model_dump() == {"after": timedelta(minutes=90)}
    with pytest.raises(ValidationError, match="months and years"):
        _Timer(after="P1M")


def test_a_duration_too_long_to_represent_is_refused_as_invalid() -> None:
    with pytest.raises(ValueError):
        parse_duration("P9999999999D")


@pytest.mark.parametrize("text", ["PT1.5S", "PT0.5S"])
def test_fractional_seconds_are_refused(text: str) -> None:
    # Durations are whole seconds, so that a saved definition reads back the same.
    with pytest.raises(ValueError, match="is not an ISO 8601 duration"):
        parse_duration(text)


# ---- events -------------------------------------------------------------------------------------


def event(type_: str, data: dict[str, Any], **fields: Any) -> Event:
    return Event.model_validate({"id": "ev-1", "contact_id": "c42", "type": type_, "data": data, **fields})


VALID_DATA = {
    "email.opened": {"message_id": "m1"},
    "email.clicked": {"message_id": "m1", "url": "https://example.com"},
    "email.unsubscribed": {"message_id": "m1"},
    "email.complained": {"message_id": "m1"},
    "email.spam": {"message_id": "m1"},
    "email.replied": {"message_id": "m1"},
    "link.clicked": {"link_id": "buy"},
    "tag.added": {"tag": "vip"},
    "tag.removed": {"tag": "vip"},
    "appointment.status": {"calendar_id": "cal-1", "appointment_id": "a1", "status": "confirmed"},
    "custom": {"name": "webinar", "value": 3, "room": "B"},
}


@pytest.mark.parametrize(("type_", "data"), VALID_DATA.items(), ids=VALID_DATA.keys())
def test_every_event_type_is_accepted_with_its_data(type_: str, data: dict[str, Any]) -> None:
    ev = event(type_, data)
    assert (ev.type, ev.data) == (type_, data)


REQUIRED = [
    ("email.opened", "message_id"),
    ("email.replied", "message_id"),
    ("link.clicked", "link_id"),
    ("tag.added", "tag"),
    ("tag.removed", "tag"),
    ("appointment.status", "calendar_id"),
    ("appointment.status", "appointment_id"),
    ("appointment.status", "status"),
    ("custom", "name"),
]


@pytest.mark.parametrize(("type_", "field"), REQUIRED)
def test_an_event_without_a_required_data_field_is_refused_naming_it(type_: str, field: str) -> None:
    data = dict(VALID_DATA[type_])
    del data[field]
    with pytest.raises(ValidationError, match=rf"data\.{field} is required for {type_} events"):
        event(type_, data)
    # An empty value is as good as missing.
    with pytest.raises(ValidationError, match=rf"data\.{field} is required"):
        event(type_, {**data, field: ""})


def test_an_appointment_status_outside_the_known_ones_is_refused() -> None:
    with pytest.raises(
        ValidationError, match=r"data\.status must be one of new, confirmed, showed, cancelled, no_show"
    ):
        event("appointment.status", {"calendar_id": "cal-1", "appointment_id": "a1", "status": "maybe"})
    for status in ("new", "confirmed", "showed", "cancelled", "no_show"):
        assert event("appointment.status", {"calendar_id": "c", "appointment_id": "a", "status": status})


@pytest.mark.parametrize(
    "fields",
    [
        {"type": "email.bounced"},
        {"contact_id": "c 42"},
        {"contact_id": ""},
        {"id": ""},
        {"source": "api"},
    ],
)
def test_malformed_events_are_refused(fields: dict[str, Any]) -> None:
    raw = {"id": "ev-1", "contact_id": "c42", "type": "tag.added", "data": {"tag": "vip"}, **fields}
    with pytest.raises(ValidationError):
        Event.model_validate(raw)


def test_occurred_at_with_an_offset_is_kept_in_utc() -> None:
    ev = event("tag.added", {"tag": "vip"}, occurred_at="2025-03-01T10:30:00+02:00")
    assert ev.occurred_at == datetime(2025, 3, 1, 8, 30, tzinfo=UTC)
    assert ev.occurred_at.utcoffset() == timedelta(0)
    assert ev.model_dump(mode="json")["occurred_at"] == "2025-03-01T08:30:00Z"


def test_a_naive_occurred_at_is_taken_as_utc() -> None:
    ev = event("tag.added", {"tag": "vip"}, occurred_at=datetime(2025, 3, 1, 10, 30))
    assert ev.occurred_at == datetime(2025, 3, 1, 10, 30, tzinfo=UTC)
    assert ev.occurred_at.tzinfo is not None


def test_occurred_at_defaults_to_now_in_utc() -> None:
    before = datetime.now(UTC)
    ev = event("tag.added", {"tag": "vip"})
    assert before <= ev.occurred_at <= datetime.now(UTC)
    assert ev.occurred_at.utcoffset() == timedelta(0)


def test_events_from_different_zones_order_by_instant() -> None:
    tokyo = event(
        "tag.added",
        {"tag": "a"},
        occurred_at=datetime(2025, 3, 1, 17, 0, tzinfo=timezone(timedelta(hours=9))),
    )
    london = event("tag.added", {"tag": "b"}, occurred_at=datetime(2025, 3, 1, 8, 30, tzinfo=UTC))
    assert tokyo.occurred_at < london.occurred_at


def test_an_event_survives_a_json_round_trip() -> None:
    ev = event(
        "appointment.status", VALID_DATA["appointment.status"], occurred_at="2025-03-01T10:30:00+02:00"
    )
    assert Event.model_validate_json(ev.model_dump_json()) == ev


def test_a_wait_reads_short_in_the_temporal_ui() -> None:
    assert [short_duration(parse_duration(d)) for d in ("P3D", "PT10M", "P1DT1H30M", "PT45S")] == [
        "3d", "10m", "1d1h30m", "45s",
    ]  # fmt: skip
