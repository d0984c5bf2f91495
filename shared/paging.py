"""Lists in pages: ordered by (time, id), each page after the last item of the
one before (keyset paging: no row is skipped or repeated when rows are added)."""

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import tuple_

Q = TypeVar("Q")


@dataclass(frozen=True)
class Page:
    # None: the whole list.
    limit: int | None = None
    # The (time, id) of the last item of the page before.
    after: tuple[datetime, str] | None = None


WHOLE = Page()


def paged(query: Q, time: Any, id: Any, page: Page) -> Q:
    """`query` ordered by (time, id), from after `page.after`, one row more than
    `page.limit`: that row says whether there is a next page."""
    query = query.order_by(time, id)  # type: ignore[attr-defined]
    if page.after is not None:
        query = query.where(tuple_(time, id) > tuple_(*page.after))  # type: ignore[attr-defined]
    if page.limit is not None:
        query = query.limit(page.limit + 1)  # type: ignore[attr-defined]
    return query


def cursor_of(time: datetime, id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([time.isoformat(), id]).encode()).decode().rstrip("=")


def parse_cursor(cursor: str) -> tuple[datetime, str]:
    """The (time, id) a cursor stands for; ValueError when it is not one of ours."""
    try:
        time, id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return datetime.fromisoformat(time), str(id)
    except (ValueError, TypeError) as error:
        raise ValueError("not a cursor this API gave") from error
