"""Deals. A real change of a deal's stage is a `deal.stage_changed` event,
returned for the caller to store in the same transaction and deliver through
the event bus (as tag changes are, `shared.store.contacts`)."""

import uuid
from typing import Any

from sqlmodel import Session, col, select

from shared.domain.crm import stage_changed
from shared.domain.errors import Conflict, NotFound
from shared.domain.events import Event
from shared.domain.paging import Page
from shared.store.contacts import get_contact
from shared.store.db import Deal, utcnow
from shared.store.paging import paged
from shared.store.users import check_user


def create_deal(session: Session, fields: dict[str, Any]) -> Deal:
    """A deal of an existing contact, owned by an existing user or none."""
    if session.get(Deal, fields["id"]) is not None:
        raise Conflict(f"deal '{fields['id']}' exists")
    get_contact(session, fields["contact_id"])
    check_user(session, fields.get("owner"))
    now = utcnow()
    deal = Deal(**fields, created_at=now, updated_at=now)
    session.add(deal)
    return deal


def get_deal(session: Session, deal_id: str) -> Deal:
    deal = session.get(Deal, deal_id)
    if deal is None:
        raise NotFound("deal", deal_id)
    return deal


def made_by(session: Session, step_key: str) -> Deal | None:
    """The deal a step run made, if it made one."""
    return session.exec(select(Deal).where(Deal.step_key == step_key)).first()


def latest_of(session: Session, enrollment_id: str) -> Deal | None:
    """The deal the enrollment's `create_deal` steps made last."""
    query = select(Deal).where(Deal.enrollment_id == enrollment_id)
    return session.exec(query.order_by(col(Deal.created_at).desc(), col(Deal.id).desc())).first()


def of_contact(session: Session, contact_id: str, page: Page) -> list[Deal]:
    get_contact(session, contact_id)
    query = select(Deal).where(Deal.contact_id == contact_id)
    return list(session.exec(paged(query, col(Deal.created_at), col(Deal.id), page)))


def update_deal(
    session: Session, deal_id: str, fields: dict[str, Any], event_id: str | None = None
) -> tuple[Deal, list[Event]]:
    """Change `stage`, `amount` and `owner` (an existing user, or None); a new
    stage is an event. `event_id` makes its id deterministic for a retried step run."""
    deal = get_deal(session, deal_id)
    if "owner" in fields:
        check_user(session, fields["owner"])
    old = deal.stage
    for name, value in fields.items():
        setattr(deal, name, value)
    deal.updated_at = utcnow()
    session.add(deal)
    if deal.stage == old:
        return deal, []
    event_id = event_id or f"deal_{uuid.uuid4().hex}"
    return deal, [
        stage_changed(event_id, deal.contact_id, deal.id, deal.pipeline, old, deal.stage, deal.updated_at)
    ]
