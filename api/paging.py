"""`limit` and `cursor` on list routes; the next page linked in a `Link` header."""

from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query, Request, Response
from fastapi.exceptions import RequestValidationError

from shared.domain.paging import Listed, Page, cursor_of, parse_cursor

T = TypeVar("T")


async def _page(
    limit: Annotated[int | None, Query(ge=1, le=1000, description="At most this many; none: all")] = None,
    cursor: Annotated[
        str | None,
        Query(pattern=r"^[A-Za-z0-9_-]+$", description='From the `Link: <…>; rel="next"` of a page'),
    ] = None,
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
PAGED: dict[int | str, dict[str, Any]] = {
    200: {
        "headers": {
            "Link": {
                "description": '`<…>; rel="next"` when there is a next page',
                "schema": {"type": "string"},
            }
        }
    }
}


def linked(listed: Listed[T], request: Request, response: Response) -> list[T]:
    """The page's items; the Link to the next page in `response`."""
    if listed.next is not None:
        following = request.url.include_query_params(limit=len(listed.items), cursor=cursor_of(*listed.next))
        response.headers["Link"] = f'<{following}>; rel="next"'
    return listed.items
