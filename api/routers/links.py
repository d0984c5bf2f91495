"""Trigger links: URLs whose clicks, through a contact's tracked URL, are events."""

from typing import Annotated

from fastapi import APIRouter, Path, status
from pydantic import Field, HttpUrl

from api.auth import guarded
from api.deps import ServicesDep
from api.errors import BODY, conflict, not_found
from api.schemas import _Body
from shared.domain.ids import ID_PATTERN, Id
from shared.services import links
from shared.services.links import LinkView, TrackedUrl

router = APIRouter(tags=["links"])

LinkId = Annotated[str, Path(pattern=ID_PATTERN)]


class LinkIn(_Body):
    id: Id | None = None
    name: str = Field(min_length=1, max_length=200)
    url: HttpUrl


@router.post(
    "/links",
    status_code=status.HTTP_201_CREATED,
    **guarded("admin", {**BODY, **conflict("A link with that id exists")}),
)
async def create_link(body: LinkIn, services: ServicesDep) -> LinkView:
    """A trigger link. In a template, `{{ trigger_link("id") }}` is each contact's tracked URL of it."""
    return await links.create(services, body.name, str(body.url), body.id)


@router.get("/links", **guarded("read"))
async def list_links(services: ServicesDep) -> list[LinkView]:
    return await links.all_links(services)


@router.get("/links/{link_id}", **guarded("read", not_found("link")))
async def get_link(link_id: LinkId, services: ServicesDep) -> LinkView:
    return await links.get(services, link_id)


@router.get("/contacts/{contact_id}/trigger-links/{link_id}", **guarded("read", not_found("contact or link")))
async def trigger_link_url(
    contact_id: Annotated[str, Path(pattern=ID_PATTERN)], link_id: LinkId, services: ServicesDep
) -> TrackedUrl:
    """This contact's tracked URL of a trigger link, for a web page, an SMS or a chat."""
    return await links.for_contact(services, contact_id, link_id)
