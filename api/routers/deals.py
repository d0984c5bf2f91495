"""Deals: created, read, and changed outside automations too; a new stage is
a `deal.stage_changed` event."""

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status

from api.auth import guarded
from api.deps import ServicesDep
from api.errors import BODY, conflict, not_found
from api.paging import PAGED, PageDep, linked
from api.schemas import _Body
from shared.domain.crm import Amount, Name
from shared.domain.ids import ID_PATTERN, Id
from shared.services import deals
from shared.services.deals import DealChanged, DealView

router = APIRouter(tags=["deals"])

PathId = Annotated[str, Path(pattern=ID_PATTERN)]


class DealIn(_Body):
    id: Id | None = None
    contact_id: Id
    name: Name
    pipeline: Name
    stage: Name
    amount: Amount | None = None
    # A user id.
    owner: Id | None = None


class DealPatch(_Body):
    # Null leaves the stage as it is: a deal always has one.
    stage: Name | None = None
    # Null clears it.
    amount: Amount | None = None
    # A user id; null: no owner.
    owner: Id | None = None


@router.post(
    "/deals",
    status_code=status.HTTP_201_CREATED,
    **guarded("admin", {**BODY, **not_found("contact or user"), **conflict("A deal with that id exists")}),
)
async def create_deal(body: DealIn, services: ServicesDep) -> DealView:
    """A deal of the contact; `id` is optional (generated when absent). Made at
    its stage, it records no event: only a change of stage does."""
    return await deals.create(services, body.model_dump(exclude_none=True))


@router.get("/deals/{deal_id}", **guarded("read", not_found("deal")))
async def get_deal(deal_id: PathId, services: ServicesDep) -> DealView:
    return await deals.get(services, deal_id)


@router.patch("/deals/{deal_id}", **guarded("admin", {**BODY, **not_found("deal or user")}))
async def update_deal(deal_id: PathId, body: DealPatch, services: ServicesDep) -> DealChanged:
    """Change the stage, amount or owner. A new stage is a `deal.stage_changed`
    event (`deal_id`, `pipeline`, `from`, `to`); `event_id` is null when the stage stayed."""
    fields = body.model_dump(exclude_unset=True)
    if fields.get("stage", "") is None:
        del fields["stage"]
    return await deals.update(services, deal_id, fields)


@router.get("/contacts/{contact_id}/deals", **guarded("read", {**PAGED, **not_found("contact")}))
async def contact_deals(
    contact_id: PathId, services: ServicesDep, page: PageDep, request: Request, response: Response
) -> list[DealView]:
    """The contact's deals, oldest first."""
    return linked(await deals.of_contact(services, contact_id, page), request, response)
