"""Deals: a contact's, in a pipeline, at a stage. A real change of stage, by
the API or by a step, is a `deal.stage_changed` event, stored with the change
and delivered by the event bus: `deal.stage` goals and waits see it."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlmodel import Session

from shared.domain.events import Event
from shared.domain.ids import new_id
from shared.domain.paging import Listed, Page, one_page
from shared.services.context import Services
from shared.store import deals


class DealView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    contact_id: str
    name: str
    pipeline: str
    stage: str
    amount: float | None
    # A user id.
    owner: str | None
    # The enrollment whose `create_deal` step made it; null for one made through the API.
    enrollment_id: str | None
    created_at: datetime
    updated_at: datetime


class DealChanged(DealView):
    # The `deal.stage_changed` event; null when the stage did not change.
    event_id: str | None = None


async def create(services: Services, fields: dict[str, Any]) -> DealView:
    """A deal; its `id` is generated when `fields` has none. Made at its stage: no event."""
    fields = {**fields, "id": fields.get("id") or new_id("deal")}

    def save(session: Session) -> DealView:
        deal = deals.create_deal(session, fields)
        session.commit()
        return DealView.model_validate(deal)

    return await services.db(save)


async def get(services: Services, deal_id: str) -> DealView:
    return await services.db(lambda s: DealView.model_validate(deals.get_deal(s, deal_id)))


async def of_contact(services: Services, contact_id: str, page: Page) -> Listed[DealView]:
    """The contact's deals, oldest first."""

    def read(session: Session) -> Listed[DealView]:
        found = one_page(deals.of_contact(session, contact_id, page), page, lambda d: (d.created_at, d.id))
        return found.map(DealView.model_validate)

    return await services.db(read)


async def update(services: Services, deal_id: str, fields: dict[str, Any]) -> DealChanged:
    """A partial update of `stage`, `amount`, `owner`; a new stage is an event."""
    updated: list[DealView] = []  # As committed, read in the same transaction.

    def change(session: Session) -> list[Event]:
        deal, events = deals.update_deal(session, deal_id, fields)
        updated.append(DealView.model_validate(deal))
        return events

    events = await services.bus.commit_and_deliver(change)
    return DealChanged(**updated[0].model_dump(), event_id=events[0].id if events else None)
