"""Lists of contacts; each real change of a membership is an event."""

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status
from pydantic import Field

from api.auth import guarded
from api.deps import ServicesDep
from api.errors import BODY, conflict, not_found
from api.paging import PAGED, PageDep, linked
from api.schemas import _Body
from shared.domain.ids import ID_PATTERN, Id
from shared.services import lists
from shared.services.lists import ListView, MembershipView

router = APIRouter(prefix="/lists", tags=["lists"])

ListId = Annotated[str, Path(pattern=ID_PATTERN)]
UNKNOWN_LIST = not_found("list")
UNKNOWN_EITHER = not_found("list or contact")


class ListIn(_Body):
    id: Id | None = None
    name: str = Field(min_length=1, max_length=200)


class MemberIn(_Body):
    contact_id: Id


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    **guarded("admin", {**BODY, **conflict("A list with that id exists")}),
)
async def create_list(body: ListIn, services: ServicesDep) -> ListView:
    """A list; `id` is optional (generated when absent). Automations use it in
    `list.joined` and `list.left` triggers and in `{"list": id}` conditions."""
    return await lists.create(services, body.name, body.id)


@router.get("", **guarded("read", PAGED))
async def list_lists(
    services: ServicesDep, page: PageDep, request: Request, response: Response
) -> list[ListView]:
    """Every list with its member count, oldest first."""
    return linked(await lists.listed(services, page), request, response)


@router.get("/{list_id}", **guarded("read", UNKNOWN_LIST))
async def get_list(list_id: ListId, services: ServicesDep) -> ListView:
    return await lists.get(services, list_id)


@router.post("/{list_id}/members", **guarded("events", {**BODY, **UNKNOWN_EITHER}))
async def add_member(list_id: ListId, body: MemberIn, services: ServicesDep) -> MembershipView:
    """Add a contact. A real change is a `list.joined` event; `event_id` is null
    when the contact was a member already."""
    return await lists.add_member(services, list_id, body.contact_id)


@router.delete("/{list_id}/members/{contact_id}", **guarded("events", UNKNOWN_EITHER))
async def remove_member(
    list_id: ListId, contact_id: Annotated[str, Path(pattern=ID_PATTERN)], services: ServicesDep
) -> MembershipView:
    """Remove a contact. A real change is a `list.left` event; `event_id` is
    null when the contact was not a member."""
    return await lists.remove_member(services, list_id, contact_id)
