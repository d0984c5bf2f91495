"""Keyset paging in SQL (shared.domain.paging says what a page is)."""

from typing import Any, TypeVar

from sqlalchemy import tuple_

from shared.domain.paging import Page

Q = TypeVar("Q")


def paged(query: Q, time: Any, id: Any, page: Page) -> Q:
    """`query` ordered by (time, id), from after `page.after`, one row more than
    `page.limit`: that row says whether there is a next page."""
    query = query.order_by(time, id)  # type: ignore[attr-defined]
    if page.after is not None:
        query = query.where(tuple_(time, id) > tuple_(*page.after))  # type: ignore[attr-defined]
    if page.limit is not None:
        query = query.limit(page.limit + 1)  # type: ignore[attr-defined]
    return query
