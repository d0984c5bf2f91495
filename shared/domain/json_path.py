"""The paths a webhook step's `save` reads the answer with: a small subset of
JSONPath. `$` is the whole answer, `.name` a member of an object, `[2]` an
element of an array (from 0; `[-1]` the last); `$.data.items[0].id`. A name is
any run of characters other than `.`, `[`, `]` and whitespace. Filters,
wildcards, slices and quoted names are not supported."""

import re
from typing import Any

Path = tuple[str | int, ...]
_SEGMENT = re.compile(r"\.([^.\[\]\s]+)|\[(-?\d+)\]")
MAX_SEGMENTS = 32


def parse_path(text: str) -> Path:
    if not text.startswith("$"):
        raise ValueError(f"'{text}': a path starts with $, such as $.data.id")
    segments: list[str | int] = []
    at = 1
    while at < len(text):
        match = _SEGMENT.match(text, at)
        if match is None:
            raise ValueError(
                f"'{text}': unexpected '{text[at : at + 10]}' at {at}; "
                "a path is $ then .name or [index] parts, such as $.items[0].id"
            )
        name, index = match.groups()
        segments.append(name if name is not None else int(index))
        at = match.end()
    if len(segments) > MAX_SEGMENTS:
        raise ValueError(f"'{text}' has {len(segments)} parts; at most {MAX_SEGMENTS}")
    return tuple(segments)


def extract(value: Any, path: Path) -> tuple[bool, Any]:
    """(True, the value at `path`), or (False, None) where the answer has nothing there."""
    for segment in path:
        if isinstance(segment, str) and isinstance(value, dict) and segment in value:
            value = value[segment]
        elif isinstance(segment, int) and isinstance(value, list) and -len(value) <= segment < len(value):
            value = value[segment]
        else:
            return False, None
    return True, value
