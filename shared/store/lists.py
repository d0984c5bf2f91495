"""Lists and their members. Each real change of a membership is a `list.joined`
or `list.left` event, returned for the caller to store in the same transaction
and deliver through the event bus (as tag changes are, `shared.store.contacts`)."""

import uuid

from sqlalchemy import func
from sqlmodel import Session, col, select

from shared.domain.errors import Conflict, NotFound
from shared.domain.events import Event
from shared.domain.paging import WHOLE, Page
from shared.store.contacts import get_contact
from shared.store.db import ContactList, ListMember, utcnow
from shared.store.paging import paged


def create_list(session: Session, list_id: str, name: str) -> ContactList:
    if session.get(ContactList, list_id) is not None:
        raise Conflict(f"list '{list_id}' exists")
    row = ContactList(id=list_id, name=name, created_at=utcnow())
    session.add(row)
    return row


def get_list(session: Session, list_id: str) -> ContactList:
    row = session.get(ContactList, list_id)
    if row is None:
        raise NotFound("list", list_id)
    return row


def listed(session: Session, page: Page = WHOLE) -> list[ContactList]:
    """Lists, oldest first (one more than `page.limit`, to tell a next page)."""
    query = select(ContactList)
    return list(session.exec(paged(query, col(ContactList.created_at), col(ContactList.id), page)))


def member_counts(session: Session, list_ids: list[str]) -> dict[str, int]:
    query = (
        select(ListMember.list_id, func.count())
        .where(col(ListMember.list_id).in_(list_ids))
        .group_by(col(ListMember.list_id))
    )
    counts = dict(session.exec(query).all())
    return {list_id: counts.get(list_id, 0) for list_id in list_ids}


def lists_of(session: Session, contact_id: str) -> list[str]:
    """The ids of the lists the contact is in, in order."""
    query = select(ListMember.list_id).where(ListMember.contact_id == contact_id)
    return sorted(session.exec(query))


def members_after(session: Session, list_id: str, after: str | None, limit: int) -> list[str]:
    """The next `limit` member contact ids of the list in id order, after `after`
    (keyset paging: members joining or leaving meanwhile never shift a page)."""
    query = select(ListMember.contact_id).where(ListMember.list_id == list_id)
    if after is not None:
        query = query.where(ListMember.contact_id > after)
    return list(session.exec(query.order_by(col(ListMember.contact_id)).limit(limit)))


def join(session: Session, list_id: str, contact_id: str, event_id: str | None = None) -> list[Event]:
    """Add the contact to the list: a `list.joined` event, none when it was a
    member. `event_id` makes the event's id deterministic for a retried step run."""
    get_list(session, list_id)
    get_contact(session, contact_id)
    if session.get(ListMember, (list_id, contact_id)) is not None:
        return []
    now = utcnow()
    session.add(ListMember(list_id=list_id, contact_id=contact_id, joined_at=now))
    return [_event("list.joined", list_id, contact_id, event_id)]


def leave(session: Session, list_id: str, contact_id: str, event_id: str | None = None) -> list[Event]:
    """Take the contact off the list: a `list.left` event, none when it was not a member."""
    get_list(session, list_id)
    get_contact(session, contact_id)
    member = session.get(ListMember, (list_id, contact_id))
    if member is None:
        return []
    session.delete(member)
    return [_event("list.left", list_id, contact_id, event_id)]


def _event(kind: str, list_id: str, contact_id: str, event_id: str | None) -> Event:
    return Event(
        id=event_id or f"list_{uuid.uuid4().hex}",
        contact_id=contact_id,
        type=kind,  # type: ignore[arg-type]
        occurred_at=utcnow(),
        data={"list_id": list_id},
    )
