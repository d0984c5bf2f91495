"""Lists in pages: ordered by (time, id), each page after the last item of the
one before (keyset paging: no row is skipped or repeated when rows are added)."""

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

T = TypeVar("T")
U = TypeVar("U")


@dataclass(frozen=True)
class Page:
    # None: the whole list.
    limit: int | None = None
    # The (time, id) of the last item of the page before.
    after: tuple[datetime, str] | None = None


WHOLE = Page()


def cursor_of(time: datetime, id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([time.isoformat(), id]).encode()).decode().rstrip("=")


def parse_cursor(cursor: str) -> tuple[datetime, str]:
    """The (time, id) a cursor stands for; ValueError when it is not one of ours."""
    try:
        time, id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return datetime.fromisoformat(time), str(id)
    except (ValueError, TypeError) as error:
        raise ValueError("not a cursor this API gave") from error


@dataclass(frozen=True)
class Listed(Generic[T]):
    """One page of a list, and where the next one starts."""

    items: list[T]
    # The (time, id) of the page's last item when there is a next page.
    next: tuple[datetime, str] | None = None

    def map(self, convert: Callable[[T], U]) -> "Listed[U]":
        return Listed([convert(item) for item in self.items], self.next)


def one_page(rows: list[T], page: Page, key: Callable[[T], tuple[datetime, str]]) -> Listed[T]:
    """The page of `rows`, a query's result with one row more than `page.limit`."""
    if page.limit is None or len(rows) <= page.limit:
        return Listed(rows)
    rows = rows[: page.limit]
    return Listed(rows, key(rows[-1]))
