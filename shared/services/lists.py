"""Lists of contacts. Each real change of a membership is a `list.joined` or
`list.left` event, stored with the change in one transaction and delivered by
the event bus: goals and triggers see it as any other event."""

from datetime import datetime

from pydantic import BaseModel
from sqlmodel import Session

from shared.domain.events import Event
from shared.domain.ids import new_id
from shared.domain.paging import Listed, Page, one_page
from shared.services.context import Services
from shared.store import lists
from shared.store.db import ContactList


class ListView(BaseModel):
    id: str
    name: str
    created_at: datetime
    member_count: int


class MembershipView(BaseModel):
    list_id: str
    contact_id: str
    # Whether the contact is a member now.
    member: bool
    # Null when nothing changed: it was a member already (or was not, for a removal).
    event_id: str | None


def _view(row: ContactList, count: int) -> ListView:
    return ListView(id=row.id, name=row.name, created_at=row.created_at, member_count=count)


async def create(services: Services, name: str, list_id: str | None = None) -> ListView:
    list_id = list_id or new_id("lst")

    def save(session: Session) -> ListView:
        row = lists.create_list(session, list_id, name)
        session.commit()
        return _view(row, 0)

    return await services.db(save)


async def get(services: Services, list_id: str) -> ListView:
    def read(session: Session) -> ListView:
        row = lists.get_list(session, list_id)
        return _view(row, lists.member_counts(session, [list_id])[list_id])

    return await services.db(read)


async def listed(services: Services, page: Page) -> Listed[ListView]:
    """Lists, oldest first, each with its member count."""

    def read(session: Session) -> Listed[ListView]:
        found = one_page(lists.listed(session, page), page, lambda r: (r.created_at, r.id))
        counts = lists.member_counts(session, [r.id for r in found.items])
        return found.map(lambda r: _view(r, counts[r.id]))

    return await services.db(read)


async def add_member(services: Services, list_id: str, contact_id: str) -> MembershipView:
    """A real change is a `list.joined` event."""
    return await _change(services, list_id, contact_id, join=True)


async def remove_member(services: Services, list_id: str, contact_id: str) -> MembershipView:
    """A real change is a `list.left` event."""
    return await _change(services, list_id, contact_id, join=False)


async def _change(services: Services, list_id: str, contact_id: str, join: bool) -> MembershipView:
    def change(session: Session) -> list[Event]:
        return (lists.join if join else lists.leave)(session, list_id, contact_id)

    events = await services.bus.commit_and_deliver(change)
    return MembershipView(
        list_id=list_id, contact_id=contact_id, member=join, event_id=events[0].id if events else None
    )
