"""Segments: whether contacts meet a condition tree (`shared.domain.conditions`)
now, read from their tags, attributes, lists and `custom` events.

What a condition needs is read for a batch of contacts in a few statements
(the contacts, their memberships of the lists it names, and each event-history
condition's events), then evaluated in Python. Attribute tests compare JSON
values as Python does, which SQL on SQLite and PostgreSQL would not; so
`page_matching` reads contacts in key order, a batch at a time, and keeps
those that match. A segment that requires a list (`{"list": …}`, alone or in
an `all`) reads that list's members only."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from shared.domain.conditions import Condition, EventHistory, Facts, evaluate, histories, lists_named
from shared.domain.conditions import required_list as required_list_of
from shared.store.db import Contact, EventRow, ListMember, utcnow

# Contacts read per statement while paging, and ids per `IN (…)`: below SQLite's variable limit.
BATCH = 500


def facts(
    session: Session,
    contact_ids: Sequence[str],
    lists: Sequence[str] = (),
    events: Sequence[EventHistory] = (),
    now: datetime | None = None,
) -> dict[str, Facts]:
    """What conditions over `lists` and `events` need of each contact that exists."""
    rows = session.execute(
        select(Contact.id, Contact.tags, Contact.attributes).where(col(Contact.id).in_(contact_ids))
    ).all()
    return _facts(session, rows, lists, events, now or utcnow())


def _facts(
    session: Session,
    rows: Sequence[Any],
    lists: Sequence[str],
    events: Sequence[EventHistory],
    now: datetime,
) -> dict[str, Facts]:
    ids = [r.id for r in rows]
    memberships: dict[str, set[str]] = {i: set() for i in ids}
    if lists and ids:
        found = session.execute(
            select(ListMember.contact_id, ListMember.list_id).where(
                col(ListMember.list_id).in_(list(lists)), col(ListMember.contact_id).in_(ids)
            )
        )
        for contact_id, list_id in found:
            memberships[contact_id].add(list_id)
    counts: dict[str, dict[EventHistory, int]] = {i: {} for i in ids}
    for history in events:
        for contact_id, n in _counts(session, ids, history, now).items():
            counts[contact_id][history] = n
    return {
        r.id: Facts(
            tags=set(r.tags),
            attributes=r.attributes,
            lists=memberships[r.id],
            counts={h: counts[r.id].get(h, 0) for h in events},
        )
        for r in rows
    }


def _counts(session: Session, ids: list[str], history: EventHistory, now: datetime) -> dict[str, int]:
    """How many of the contacts' `custom` events the condition counts. The name and
    the window are filtered in SQL; the value, any JSON scalar, in Python."""
    query = select(EventRow.contact_id, EventRow.data).where(
        col(EventRow.contact_id).in_(ids),
        EventRow.type == "custom",
        col(EventRow.data)["name"].as_string() == history.event,
    )
    if history.within is not None:
        query = query.where(EventRow.occurred_at >= now - history.within)
    counts: dict[str, int] = {}
    for contact_id, data in session.execute(query):
        if history.value is None or data.get("value") == history.value:
            counts[contact_id] = counts.get(contact_id, 0) + 1
    return counts


def matches(session: Session, contact_id: str, segment: Condition, now: datetime | None = None) -> bool:
    """Whether the contact meets `segment` now; False for a contact that does not exist.
    Events count up to this moment, the one being stored included."""
    found = facts(session, [contact_id], sorted(lists_named(segment)), histories(segment), now)
    return contact_id in found and evaluate(segment, found[contact_id])


def page_matching(
    session: Session, segment: Condition, after: str | None, limit: int, now: datetime | None = None
) -> list[str]:
    """The ids of up to `limit` contacts that meet `segment`, in id order, after
    `after`: the next page of a bulk enrollment. Fewer than `limit`: the last page.
    Its cost is that of the contacts read to fill it (see the module's docstring)."""
    now = now or utcnow()
    lists, events = sorted(lists_named(segment)), histories(segment)
    required = required_list_of(segment)
    matched: list[str] = []
    while len(matched) < limit:
        rows = _next_contacts(session, required, after, BATCH)
        known = _facts(session, rows, lists, events, now)
        for row in rows:
            if evaluate(segment, known[row.id]):
                matched.append(row.id)
                if len(matched) == limit:
                    return matched
        if len(rows) < BATCH:
            break
        after = rows[-1].id
    return matched


def _next_contacts(session: Session, list_id: str | None, after: str | None, limit: int) -> list[Any]:
    query = select(Contact.id, Contact.tags, Contact.attributes)
    if list_id is not None:
        query = query.join(ListMember, col(ListMember.contact_id) == Contact.id).where(
            ListMember.list_id == list_id
        )
    if after is not None:
        query = query.where(Contact.id > after)
    return list(session.execute(query.order_by(Contact.id).limit(limit)).all())
