"""Contact changes. A contact's creation, and each real change of a tag or an
appointment status, is an event (SPEC G9), returned for the caller to store in
the same transaction and deliver through the event bus."""

import uuid
from typing import Any

from sqlmodel import Session

from shared.domain.errors import Conflict, NotFound
from shared.domain.events import Event
from shared.domain.phones import TEXT_CHANNELS
from shared.store.db import Appointment, Contact, utcnow


def get_contact(session: Session, contact_id: str) -> Contact:
    contact = session.get(Contact, contact_id)
    if contact is None:
        raise NotFound("contact", contact_id)
    return contact


def create_contact(session: Session, fields: dict[str, Any]) -> Contact:
    if session.get(Contact, fields["id"]) is not None:
        raise Conflict(f"contact '{fields['id']}' already exists")
    contact = Contact(
        **{**fields, "tags": sorted(set(fields.get("tags") or []))},
        created_at=utcnow(),
    )
    session.add(contact)
    return contact


def created_event(contact: Contact) -> Event:
    return Event(
        id=f"created_{uuid.uuid4().hex}",
        contact_id=contact.id,
        type="contact.created",
        occurred_at=contact.created_at,
    )


def update_contact(session: Session, contact_id: str, fields: dict[str, Any]) -> list[Event]:
    """Apply a partial update; `attributes` are merged (a null value unsets one),
    `tags` replace the contact's tags."""
    contact = get_contact(session, contact_id)
    events: list[Event] = []
    for name, value in fields.items():
        if name in ("attributes", "tags", "consent") and value is None:
            continue  # An explicit null leaves them as they are.
        if name == "consent":
            events += _change_consent(contact, value)
        elif name == "attributes":
            merged = {**contact.attributes, **value}
            contact.attributes = {k: v for k, v in merged.items() if v is not None}
        elif name == "tags":
            wanted = set(value)
            events += change_tags(session, contact_id, add=wanted, remove=set(contact.tags) - wanted)
        else:
            setattr(contact, name, value)
    session.add(contact)
    return events


def _change_consent(contact: Contact, wanted: dict[str, str]) -> list[Event]:
    """Consent given through the API; resubscribing is an event."""
    events = []
    for channel, state in wanted.items():
        if state is None:
            continue
        if set_consent(contact, channel, state) and state == "subscribed":
            texted = channel in TEXT_CHANNELS
            events.append(
                Event(
                    id=f"resubscribed_{uuid.uuid4().hex}",
                    contact_id=contact.id,
                    type="sms.resubscribed" if texted else "email.resubscribed",
                    occurred_at=utcnow(),
                    data={"channel": channel} if texted else {},
                )
            )
    return events


def change_tags(
    session: Session,
    contact_id: str,
    *,
    add: set[str] = frozenset(),  # type: ignore[assignment]
    remove: set[str] = frozenset(),  # type: ignore[assignment]
    event_id: str | None = None,
) -> list[Event]:
    """Add and remove tags; one event per tag that really changed. `event_id`
    makes the event ids deterministic for a retried step run."""
    contact = get_contact(session, contact_id)
    tags = set(contact.tags)
    changes = [("tag.added", t) for t in sorted(add - tags)] + [
        ("tag.removed", t) for t in sorted(remove & tags)
    ]
    if not changes:
        return []
    contact.tags = sorted((tags | add) - remove)
    session.add(contact)
    now = utcnow()
    return [
        Event(
            id=f"{event_id}/{i}" if event_id else f"tag_{uuid.uuid4().hex}",
            contact_id=contact_id,
            type=kind,  # type: ignore[arg-type]
            occurred_at=now,
            data={"tag": tag},
        )
        for i, (kind, tag) in enumerate(changes)
    ]


def set_blocklisted(session: Session, contact_id: str, blocklisted: bool) -> bool:
    """Put the contact on the blocklist, or take it off; whether it changed.
    Every send to the contact reads it (`worker.activities.sending`)."""
    contact = get_contact(session, contact_id)
    if contact.blocklisted == blocklisted:
        return False
    contact.blocklisted = blocklisted
    session.add(contact)
    return True


def set_appointment(
    session: Session, appointment_id: str, contact_id: str, calendar_id: str, status: str
) -> tuple[Appointment, list[Event]]:
    """Create or update an appointment; a new or changed status is an event."""
    get_contact(session, contact_id)
    appointment = session.get(Appointment, appointment_id)
    if appointment is not None and appointment.contact_id != contact_id:
        raise Conflict(f"appointment '{appointment_id}' belongs to another contact")
    changed = appointment is None or appointment.status != status or appointment.calendar_id != calendar_id
    now = utcnow()
    appointment = appointment or Appointment(
        id=appointment_id, contact_id=contact_id, calendar_id=calendar_id, status=status, updated_at=now
    )
    appointment.calendar_id, appointment.status, appointment.updated_at = calendar_id, status, now
    session.add(appointment)
    if not changed:
        return appointment, []
    event = Event(
        id=f"appt_{uuid.uuid4().hex}",
        contact_id=contact_id,
        type="appointment.status",
        occurred_at=now,
        data={"calendar_id": calendar_id, "appointment_id": appointment_id, "status": status},
    )
    return appointment, [event]


# What each event makes of the contact's email consent.
EMAIL_CONSENT_AFTER = {
    "email.unsubscribed": "unsubscribed",
    "email.complained": "complained",
    "email.spam": "complained",
    "email.bounced": "bounced",
    "email.resubscribed": "subscribed",
}


# ... and of its consent to the channel (`data.channel`) of a text message.
TEXT_CONSENT_AFTER = {"sms.unsubscribed": "unsubscribed", "sms.resubscribed": "subscribed"}


def apply_event(session: Session, event: Event) -> None:
    """What an incoming event changes on the contact itself."""
    if event.type in EMAIL_CONSENT_AFTER:
        channel, consent = "email", EMAIL_CONSENT_AFTER[event.type]
    elif event.type in TEXT_CONSENT_AFTER:
        channel, consent = event.data.get("channel", "sms"), TEXT_CONSENT_AFTER[event.type]
    else:
        return
    contact = session.get(Contact, event.contact_id)
    if contact is not None:
        set_consent(contact, channel, consent)
        session.add(contact)


def consent_of(contact: Contact, channel: str) -> str:
    return contact.consent.get(channel, "subscribed")


def set_consent(contact: Contact, channel: str, state: str) -> bool:
    """Whether it changed. `unsubscribed` follows email consent."""
    if consent_of(contact, channel) == state:
        return False
    contact.consent = {**contact.consent, channel: state}
    if channel == "email":
        contact.unsubscribed = state != "subscribed"
    return True
