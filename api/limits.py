"""Request bodies over their limit are refused with 413 (shared.domain.limits): the
largest limit, a definition's, by a middleware that refuses a body before it is
read whole; a smaller one (an event's) by a dependency of its route."""

from typing import Any

from fastapi import Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.domain.limits import size


def body_limit(limit: int, what: str) -> Any:
    """A route's dependency: 413 when the request body is over `limit` bytes."""

    async def check(request: Request) -> None:
        declared = request.headers.get("content-length", "")
        length = int(declared) if declared.isdigit() else len(await request.body())
        if length > limit:
            raise HTTPException(413, f"{what} is {length:,} bytes; the limit is {size(limit)}")

    return Depends(check)


class BodyLimit:
    """Refuses any request body over `limit` bytes: by its Content-Length
    before reading it, or as soon as a streamed body passes the limit."""

    def __init__(self, app: ASGIApp, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            return await self._refuse(f"the request body is {int(declared):,} bytes", scope, receive, send)
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                # Raised where the route reads its body: FastAPI answers it as it is.
                raise HTTPException(
                    413, f"the request body is over {received:,} bytes; the limit is {size(self.limit)}"
                )
            return message

        await self.app(scope, counted, send)

    async def _refuse(self, what: str, scope: Scope, receive: Receive, send: Send) -> None:
        detail = f"{what}; the limit is {size(self.limit)}"
        await JSONResponse({"detail": detail}, status_code=413)(scope, receive, send)
