"""Trigger links: URLs whose clicks, through goalflow's tracked URL for a
contact, are `link.clicked` events that goals and triggers can wait for."""

from pydantic import BaseModel, ConfigDict
from sqlmodel import Session, col, select

from shared.domain.errors import Conflict, NotFound, Unavailable
from shared.domain.ids import new_id
from shared.services.context import Services
from shared.store.contacts import get_contact
from shared.store.db import Link, utcnow


class LinkView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    url: str


class TrackedUrl(BaseModel):
    url: str


async def create(services: Services, name: str, url: str, link_id: str | None = None) -> LinkView:
    link_id = link_id or new_id("lnk")

    def save(session: Session) -> LinkView:
        if session.get(Link, link_id) is not None:
            raise Conflict(f"link '{link_id}' exists")
        link = Link(id=link_id, name=name, url=url, created_at=utcnow())
        session.add(link)
        session.commit()
        return LinkView.model_validate(link)

    return await services.db(save)


async def get(services: Services, link_id: str) -> LinkView:
    def read(session: Session) -> LinkView:
        link = session.get(Link, link_id)
        if link is None:
            raise NotFound("link", link_id)
        return LinkView.model_validate(link)

    return await services.db(read)


async def all_links(services: Services) -> list[LinkView]:
    def read(session: Session) -> list[LinkView]:
        rows = session.exec(select(Link).order_by(col(Link.created_at), col(Link.id)))
        return [LinkView.model_validate(r) for r in rows]

    return await services.db(read)


async def for_contact(services: Services, contact_id: str, link_id: str) -> TrackedUrl:
    """The contact's tracked URL of a trigger link, for a page, an SMS or a chat."""
    if services.tracker is None:
        raise Unavailable("trigger links need GOALFLOW_SECRET_KEY, which signs them")

    def check(session: Session) -> None:
        get_contact(session, contact_id)
        if session.get(Link, link_id) is None:
            raise NotFound("link", link_id)

    await services.db(check)
    return TrackedUrl(url=services.tracker.link_url(contact_id, link_id))
