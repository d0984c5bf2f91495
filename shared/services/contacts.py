"""Contacts: their fields, tags, lists and appointments, and what was sent to
them. A contact's creation, and each real change of a tag or an appointment
status, is an event, stored with the change in one transaction and delivered
by the event bus (which fires the triggers it meets)."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlmodel import Session, col, select

from shared.domain.events import Event
from shared.domain.ids import new_id
from shared.domain.paging import Listed, Page, one_page
from shared.services.context import Services
from shared.store import contacts, lists
from shared.store.db import Message
from shared.store.paging import paged


class ContactView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    email: str | None
    phone: str | None
    first_name: str | None
    last_name: str | None
    timezone: str | None
    attributes: dict[str, Any]
    tags: list[str]
    unsubscribed: bool
    blocklisted: bool
    created_at: datetime
    # Per channel; a channel not named is subscribed.
    consent: dict[str, str] = {}
    # The ids of the lists it is in.
    lists: list[str] = []
    # The user who owns it (set by an `assign_user` step).
    owner: str | None = None


class TagsView(BaseModel):
    contact_id: str
    tags: list[str]
    # Null when the contact had the tag already (or did not, for a removal).
    event_id: str | None


class MessageView(BaseModel):
    """A message in the outbox."""

    model_config = ConfigDict(from_attributes=True)

    message_id: str
    enrollment_id: str
    step_id: str
    contact_id: str
    # email | sms | whatsapp | internal (a notify step's, about the contact, to the team)
    channel: str
    to: str | None
    sender: str | None
    subject: str
    body: str
    html: str | None = None
    # sending | sent | refused (by the SMTP server or Twilio, for good)
    status: str = "sent"
    created_at: datetime
    # A WhatsApp template message's content SID (its `body` is the variables, as JSON).
    template: str | None = None
    # Twilio's SID of an SMS or WhatsApp message.
    provider_id: str | None = None


class AppointmentView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    contact_id: str
    calendar_id: str
    status: str
    updated_at: datetime
    # Null when nothing changed.
    event_id: str | None = None


async def create(services: Services, fields: dict[str, Any]) -> ContactView:
    """A new contact, and its `contact.created` event; its `id` is generated when `fields` has none."""
    fields = {"id": new_id("ct"), **fields}
    created: list[ContactView] = []

    def save(session: Session) -> list[Event]:
        contact = contacts.create_contact(session, fields)
        created.append(ContactView.model_validate(contact))
        return [contacts.created_event(contact)]

    await services.bus.commit_and_deliver(save)
    return created[0]


def _view(session: Session, contact_id: str) -> ContactView:
    view = ContactView.model_validate(contacts.get_contact(session, contact_id))
    return view.model_copy(update={"lists": lists.lists_of(session, contact_id)})


async def get(services: Services, contact_id: str) -> ContactView:
    return await services.db(lambda s: _view(s, contact_id))


async def update(services: Services, contact_id: str, fields: dict[str, Any]) -> ContactView:
    """A partial update (see `store.contacts.update_contact`); tag changes are events."""
    updated: list[ContactView] = []  # As committed, read in the same transaction.

    def change(session: Session) -> list[Event]:
        events = contacts.update_contact(session, contact_id, fields)
        updated.append(_view(session, contact_id))
        return events

    await services.bus.commit_and_deliver(change)
    return updated[0]


async def add_tag(services: Services, contact_id: str, tag: str) -> TagsView:
    return await _change_tag(services, contact_id, tag, add=True)


async def remove_tag(services: Services, contact_id: str, tag: str) -> TagsView:
    return await _change_tag(services, contact_id, tag, add=False)


async def _change_tag(services: Services, contact_id: str, tag: str, add: bool) -> TagsView:
    now: list[str] = []  # The tags as committed, read in the same transaction.

    def change(session: Session) -> list[Event]:
        tags = {tag}
        events = contacts.change_tags(
            session, contact_id, add=tags if add else set(), remove=set() if add else tags
        )
        now.extend(contacts.get_contact(session, contact_id).tags)
        return events

    events = await services.bus.commit_and_deliver(change)
    return TagsView(contact_id=contact_id, tags=now, event_id=events[0].id if events else None)


async def blocklist(services: Services, contact_id: str, blocklisted: bool) -> ContactView:
    """Put the contact on the blocklist (no automation sends it anything from
    then on: each send skips it, `contact is blocklisted`), or take it off."""

    def change(session: Session) -> ContactView:
        if contacts.set_blocklisted(session, contact_id, blocklisted):
            session.commit()
        return _view(session, contact_id)

    return await services.db(change)


async def messages(services: Services, contact_id: str, page: Page) -> Listed[MessageView]:
    """The contact's messages in the outbox, oldest first."""

    def found(session: Session) -> list[MessageView]:
        contacts.get_contact(session, contact_id)
        query = select(Message).where(Message.contact_id == contact_id)
        rows = session.exec(paged(query, col(Message.created_at), col(Message.message_id), page))
        return [MessageView.model_validate(m) for m in rows]

    return one_page(await services.db(found), page, lambda m: (m.created_at, m.message_id))


async def set_appointment(
    services: Services, appointment_id: str, contact_id: str, calendar_id: str, status: str
) -> AppointmentView:
    """Create or update an appointment; a new or changed status is an `appointment.status` event."""
    saved: list[AppointmentView] = []

    def change(session: Session) -> list[Event]:
        appointment, events = contacts.set_appointment(
            session, appointment_id, contact_id, calendar_id, status
        )
        saved.append(AppointmentView.model_validate(appointment))
        return events

    events = await services.bus.commit_and_deliver(change)
    return saved[0].model_copy(update={"event_id": events[0].id if events else None})
