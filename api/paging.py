"""`limit` and `cursor` on list routes; the next page linked in a `Link` header."""

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, TypeVar

from fastapi import Depends, Query, Request, Response
from fastapi.exceptions import RequestValidationError

from shared.domain.paging import Page, cursor_of, parse_cursor

T = TypeVar("T")


async def _page(
    limit: Annotated[int | None, Query(ge=1, le=1000, description="At most this many; none: all")] = None,
    cursor: Annotated[str | None, Query(description='From the `Link: <…>; rel="next"` of a page')] = None,
) -> Page:
    if cursor is None:
        return Page(limit)
    try:
        return Page(limit, parse_cursor(cursor))
    except ValueError as error:
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("query", "cursor"), "msg": str(error), "input": cursor}]
        ) from None


PageDep = Annotated[Page, Depends(_page)]
PAGED = {"headers": {"Link": {"description": '`<…>; rel="next"` when there is a next page'}}}


def one_page(
    items: list[T], page: Page, request: Request, response: Response, key: Callable[[T], tuple[datetime, str]]
) -> list[T]:
    """The page's items (the query fetched one more), and the Link to the next page."""
    if page.limit is None or len(items) <= page.limit:
        return items
    items = items[: page.limit]
    following = request.url.include_query_params(limit=page.limit, cursor=cursor_of(*key(items[-1])))
    response.headers["Link"] = f'<{following}>; rel="next"'
    return items
