"""Twilio's webhooks (`POST /webhooks/twilio`), verified with `X-Twilio-Signature`
under GOALFLOW_TWILIO_AUTH_TOKEN before anything is read or stored (SPEC §7).

- A status callback (it has `MessageStatus`) of a message we sent: `delivered`
  records `sms.delivered`; `undelivered` and `failed` record `sms.failed` with
  Twilio's `ErrorCode`. The message is the one our `StatusCallback` URL names
  (`?message_id=`), else the one with that `MessageSid`. Other statuses, and
  messages we do not know, are acknowledged and ignored.
- A message a contact sends us (no `MessageStatus`), for every contact whose
  phone is its `From`: an opt-out word records `sms.unsubscribed` (that
  channel's consent becomes `unsubscribed`), an opt-in word `sms.resubscribed`,
  anything else `sms.replied`; `data.message_id` is our latest message to the
  number on that channel, the one it answers. A WhatsApp message opens
  WhatsApp's 24-hour window for free text to that number.

Event ids come from Twilio's SIDs, so Twilio's retries count once (G10)."""

from urllib.parse import parse_qs, urlsplit

from sqlmodel import Session, select

from shared.domain.events import Event
from shared.domain.phones import TEXT_CHANNELS, channel_of
from shared.domain.twilio import Params, inbound_event_type, verified
from shared.services.context import Services
from shared.store.contacts import apply_event
from shared.store.db import Message, utcnow
from shared.store.texts import answered, contacts_with_phone, record_inbound

STATUS_EVENTS = {"delivered": "sms.delivered", "undelivered": "sms.failed", "failed": "sms.failed"}


async def receive(services: Services, url: str, params: Params, signature: str | None) -> bool:
    """Record what Twilio posted to `url` (as Twilio requested it); False, with
    nothing stored, when it is not signed with our auth token."""
    token = services.twilio_auth_token
    if token is None or not verified(token, url, params, signature):
        return False
    fields = dict(params)
    if "MessageStatus" in fields:
        ours = parse_qs(urlsplit(url).query).get("message_id", [None])[0]
        await _status(services, fields, ours)
    elif fields.get("MessageSid") and fields.get("From"):
        await _inbound(services, fields)
    return True


async def _status(services: Services, fields: dict[str, str], message_id: str | None) -> None:
    status, sid = fields["MessageStatus"], fields.get("MessageSid")
    kind = STATUS_EVENTS.get(status)
    if kind is None:
        return

    def find(session: Session) -> Message | None:
        if message_id:
            return session.get(Message, message_id)
        return session.exec(select(Message).where(Message.provider_id == sid)).first() if sid else None

    message = await services.db(find)
    if message is None or message.channel not in TEXT_CHANNELS:
        return
    data = {"message_id": message.message_id, "channel": message.channel, "sid": sid}
    if kind == "sms.failed":
        data |= {"status": status, "error_code": fields.get("ErrorCode")}
    event = Event(
        id=f"twilio_{sid or message.message_id}_{status}",
        contact_id=message.contact_id,
        type=kind,  # type: ignore[arg-type]
        occurred_at=utcnow(),
        data=data,
    )
    await services.bus.publish(event)


async def _inbound(services: Services, fields: dict[str, str]) -> None:
    sid, body = fields["MessageSid"], fields.get("Body", "")
    channel, number = channel_of(fields["From"])
    kind = inbound_event_type(body, fields.get("OptOutType"))
    received = utcnow()

    def change(session: Session) -> list[Event]:
        if not record_inbound(session, sid, channel, number, received):
            return []  # Twilio's retry of a message we have.
        events = []
        for contact in contacts_with_phone(session, number):
            answers = answered(session, contact.id, channel, number)
            event = Event(
                id=f"twilio_{sid}_{contact.id}",
                contact_id=contact.id,
                type=kind,  # type: ignore[arg-type]
                occurred_at=received,
                data={"channel": channel, "body": body, "sid": sid}
                | ({"message_id": answers} if answers else {}),
            )
            apply_event(session, event)  # An opt-out word: the channel's consent, in this transaction.
            events.append(event)
        return events

    await services.bus.commit_and_deliver(change)
