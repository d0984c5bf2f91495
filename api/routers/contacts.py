import asyncio
import logging
from typing import Any

from fastapi import APIRouter, Request, Response, status
from sqlmodel import Session, col, select

from api.auth import guarded
from api.deps import BusDep, ClientDep, DbDep
from api.paging import PAGED, PageDep, one_page
from api.schemas import ContactFields, ContactIn, TagIn
from shared.contracts import EnrollmentSnapshot
from shared.domain.events import Event
from shared.domain.ids import new_id
from shared.services import reconcile
from shared.store import contacts, enrollments
from shared.store.db import Contact, Message
from shared.store.paging import paged

router = APIRouter(prefix="/contacts", tags=["contacts"])
log = logging.getLogger("goalflow.api")


def _out(contact: Contact) -> dict[str, Any]:
    return contact.model_dump()


@router.post("", status_code=status.HTTP_201_CREATED, **guarded("events"))
async def create_contact(body: ContactIn, db: DbDep) -> dict[str, Any]:
    fields = body.model_dump(exclude_none=True)
    fields.setdefault("id", new_id("ct"))

    def create(session: Session) -> Contact:
        contact = contacts.create_contact(session, fields)
        session.commit()
        return contact

    return _out(await db(create))


@router.get("/{contact_id}", **guarded("read"))
async def get_contact(contact_id: str, db: DbDep) -> dict[str, Any]:
    return _out(await db(lambda s: contacts.get_contact(s, contact_id)))


@router.patch("/{contact_id}", **guarded("events"))
async def update_contact(contact_id: str, body: ContactFields, bus: BusDep, db: DbDep) -> dict[str, Any]:
    await bus.commit_and_deliver(
        lambda s: contacts.update_contact(s, contact_id, body.model_dump(exclude_unset=True))
    )
    return await get_contact(contact_id, db)


async def _change_tag(contact_id: str, tag: str, add: bool, bus: BusDep) -> dict[str, Any]:
    now: list[str] = []  # The tags as committed, read in the same transaction.

    def change(session: Session) -> list[Event]:
        tags = {tag}
        events = contacts.change_tags(
            session, contact_id, add=tags if add else set(), remove=set() if add else tags
        )
        now.extend(contacts.get_contact(session, contact_id).tags)
        return events

    events = await bus.commit_and_deliver(change)
    return {"contact_id": contact_id, "tags": now, "event_id": events[0].id if events else None}


@router.post("/{contact_id}/tags", **guarded("events"))
async def add_tag(contact_id: str, body: TagIn, bus: BusDep) -> dict[str, Any]:
    """Add a tag. A real change is a `tag.added` event; `event_id` is null when
    the contact already had the tag."""
    return await _change_tag(contact_id, body.tag, True, bus)


@router.delete("/{contact_id}/tags/{tag}", **guarded("events"))
async def remove_tag(contact_id: str, tag: str, bus: BusDep) -> dict[str, Any]:
    return await _change_tag(contact_id, tag, False, bus)


@router.get("/{contact_id}/enrollments", **guarded("read", {200: PAGED}))
async def contact_enrollments(
    contact_id: str, db: DbDep, client: ClientDep, page: PageDep, request: Request, response: Response
) -> list[dict[str, Any]]:
    rows = await db(lambda s: enrollments.list_for_contact(s, contact_id, page))
    running = [r.id for r in rows if r.status == "running"]
    # One ended in Temporal (terminated) is recorded now rather than at the next sweep.
    settled = await asyncio.gather(
        *(reconcile.settle(client, db.engine, e) for e in running), return_exceptions=True
    )
    for enrollment_id, outcome in zip(running, settled, strict=True):
        if isinstance(outcome, Exception):  # Temporal slow or down: the rows as they are.
            log.warning("could not check %s against Temporal: %s", enrollment_id, outcome)
    if any(isinstance(s, EnrollmentSnapshot) for s in settled):
        rows = await db(lambda s: enrollments.list_for_contact(s, contact_id, page))
    rows = one_page(rows, page, request, response, lambda r: (r.enrolled_at, r.id))
    return [enrollments.summary(r) for r in rows]


@router.get("/{contact_id}/messages", **guarded("read", {200: PAGED}))
async def contact_messages(
    contact_id: str, db: DbDep, page: PageDep, request: Request, response: Response
) -> list[dict[str, Any]]:
    def messages(session: Session) -> list[Message]:
        contacts.get_contact(session, contact_id)
        query = select(Message).where(Message.contact_id == contact_id)
        return list(session.exec(paged(query, col(Message.created_at), col(Message.message_id), page)))

    found = one_page(await db(messages), page, request, response, lambda m: (m.created_at, m.message_id))
    return [m.model_dump(exclude={"idempotency_key"}) for m in found]
