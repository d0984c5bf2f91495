"""Tracking: the signed URLs in the messages goalflow sends. Public (the token
is the key); an altered or forged token gets 404, never a redirect."""

import base64
import html
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.deps import ServicesDep
from api.errors import error, html_page
from shared.services import tracking

router = APIRouter(prefix="/t", tags=["tracking"])

Token = Annotated[str, Path(min_length=1, max_length=4096)]
UNKNOWN = error(404, "Not a tracking URL goalflow signed")
# A transparent 1×1 GIF.
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>
<style>body {{ font-family: system-ui, sans-serif; max-width: 32rem; margin: 4rem auto; }}</style>
</head><body>{body}</body></html>"""


def _hit(request: Request) -> tracking.Hit:
    return tracking.Hit(request.method, request.headers.get("user-agent"), datetime.now(UTC))


@router.head("/o/{token}", operation_id="open_head", response_class=Response, responses=UNKNOWN)
@router.get(
    "/o/{token}",
    operation_id="open",
    response_class=Response,
    responses={200: {"content": {"image/gif": {}}, "description": "An invisible image"}, **UNKNOWN},
)
async def opened(token: Token, request: Request, services: ServicesDep) -> Response:
    """An open: records `email.opened` and answers an invisible image."""
    if not await tracking.opened(services, token, _hit(request)):
        raise HTTPException(404, "not a tracking URL goalflow signed")
    return Response(PIXEL, media_type="image/gif", headers={"Cache-Control": "no-store"})


@router.head(
    "/c/{token}",
    operation_id="click_head",
    response_class=RedirectResponse,
    status_code=302,
    responses={302: {"description": "To the link's URL"}, **UNKNOWN},
)
@router.get(
    "/c/{token}",
    operation_id="click",
    response_class=RedirectResponse,
    status_code=302,
    responses={302: {"description": "To the link's URL"}, **UNKNOWN},
)
async def clicked(token: Token, request: Request, services: ServicesDep) -> RedirectResponse:
    """A click: records `email.clicked` (and `link.clicked` for a trigger link), then redirects."""
    url = await tracking.clicked(services, token, _hit(request))
    if url is None:
        raise HTTPException(404, "not a tracking URL goalflow signed")
    return RedirectResponse(url, status_code=302, headers={"Cache-Control": "no-store"})


@router.get("/u/{token}", responses={**html_page("A page with one button"), **UNKNOWN})
async def unsubscribe_page(token: Token, services: ServicesDep) -> HTMLResponse:
    """A page asking to confirm the unsubscribe, with one button."""
    who = await tracking.unsubscribing(services, token)
    if who is None:
        raise HTTPException(404, "not a tracking URL goalflow signed")
    body = (
        f"<h1>Unsubscribe</h1><p>Stop marketing email to {html.escape(who.email or 'this address')}?</p>"
        '<form method="post"><button type="submit" name="List-Unsubscribe" value="One-Click">'
        "Unsubscribe</button></form>"
    )
    return HTMLResponse(_PAGE.format(title="Unsubscribe", body=body))


@router.post("/u/{token}", responses={**html_page("Unsubscribed"), **UNKNOWN})
async def unsubscribe(token: Token, services: ServicesDep) -> HTMLResponse:
    """Unsubscribe from marketing email (RFC 8058 one-click: `List-Unsubscribe=One-Click`,
    form-encoded, or the page's button): records `email.unsubscribed`."""
    who = await tracking.unsubscribe(services, token)
    if who is None:
        raise HTTPException(404, "not a tracking URL goalflow signed")
    body = f"<h1>Unsubscribed</h1><p>{html.escape(who.email or 'This address')} gets no more marketing email.</p>"
    return HTMLResponse(_PAGE.format(title="Unsubscribed", body=body))
