"""ISO 8601 durations (`P3D`, `PT10M`, `P1W`) as timedeltas, in whole seconds.

Months and years are refused: they have no fixed length, and a wait that
silently means 30 or 365 days is a surprise to the user who wrote it.
"""

import re
from datetime import timedelta
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer

_PATTERN = re.compile(
    r"^P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)


def parse_duration(text: str) -> timedelta:
    if not isinstance(text, str):
        raise ValueError("must be an ISO 8601 duration string such as 'P3D' or 'PT10M'")
    match = _PATTERN.match(text)
    if not match or text in ("P", "PT") or text.endswith("T"):
        if re.match(r"^P\d+[YM]|^P[^T]*\d+[YM]", text):
            raise ValueError(f"'{text}': months and years have no fixed length; use days or weeks")
        raise ValueError(f"'{text}' is not an ISO 8601 duration such as 'P3D' or 'PT10M'")
    parts = {k: int(v) for k, v in match.groupdict().items() if v}
    try:
        value = timedelta(**parts)
    except OverflowError:
        raise ValueError(f"'{text}' is too long") from None
    if value <= timedelta(0):
        raise ValueError(f"'{text}' must be longer than zero")
    return value


def format_duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    time = "".join(f"{n}{u}" for n, u in ((hours, "H"), (minutes, "M"), (secs, "S")) if n)
    return "P" + (f"{days}D" if days else "") + (f"T{time}" if time else "" if days else "T0S")


def short_duration(value: timedelta) -> str:
    """`3d`, `1h30m`, `45s`: how the Temporal UI's timeline names a wait."""
    seconds = max(0, round(value.total_seconds()))
    parts = []
    for unit, length in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, length)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def _coerce(value: object) -> object:
    return value if isinstance(value, timedelta) else parse_duration(value)  # type: ignore[arg-type]


Duration = Annotated[
    timedelta,
    BeforeValidator(_coerce),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
]
