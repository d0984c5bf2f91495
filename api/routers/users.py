"""Users: the team that owns contacts and deals and does tasks."""

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status
from pydantic import Field

from api.auth import guarded
from api.deps import ServicesDep
from api.errors import BODY, conflict, not_found
from api.paging import PAGED, PageDep, linked
from api.schemas import _Body
from shared.domain.ids import ID_PATTERN, Id
from shared.domain.steps.notify import Address
from shared.services import users
from shared.services.users import UserView

router = APIRouter(prefix="/users", tags=["users"])


class UserIn(_Body):
    id: Id | None = None
    name: str = Field(min_length=1, max_length=200)
    # Where `notify` steps naming the user send.
    email: Address


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    **guarded("admin", {**BODY, **conflict("A user with that id exists")}),
)
async def create_user(body: UserIn, services: ServicesDep) -> UserView:
    """A user; `id` is optional (generated when absent). Steps name users as
    deal owners, task assignees, contact owners (`assign_user`) and `notify` recipients."""
    return await users.create(services, body.name, body.email, body.id)


@router.get("", **guarded("read", PAGED))
async def list_users(
    services: ServicesDep, page: PageDep, request: Request, response: Response
) -> list[UserView]:
    """Every user, oldest first."""
    return linked(await users.listed(services, page), request, response)


@router.get("/{user_id}", **guarded("read", not_found("user")))
async def get_user(user_id: Annotated[str, Path(pattern=ID_PATTERN)], services: ServicesDep) -> UserView:
    return await users.get(services, user_id)
