"""Providers' webhooks in: verified (`shared.domain.providers`), each record
matched to the message it is about, then recorded as an event through the event
bus, so goals see it, its id counts once (G10) and consent follows it
(`shared.store.contacts.apply_event`). A record about no message goalflow sent
is acknowledged and kept as ignored: an error would be retried by the provider
for hours, to no end."""

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel
from sqlmodel import Session

from shared.domain.events import Event
from shared.domain.providers import MAX_IDS, Record, mailgun, postmark, sendgrid, ses
from shared.services.context import Services
from shared.store.db import Contact, IgnoredWebhook, Message, insert_new, utcnow


class Received(BaseModel):
    # Event ids recorded (or recorded before: a retry), and those ignored.
    recorded: list[str] = []
    ignored: list[str] = []
    # An SNS subscription confirmed by this post: its topic.
    confirmed_topic: str | None = None


async def mailgun_webhook(services: Services, body: bytes) -> Received:
    return await record(services, mailgun.webhook(services.webhooks.mailgun_signing_key, body))


async def mailgun_route(services: Services, form: Mapping[str, str]) -> Received:
    return await record(services, mailgun.route(services.webhooks.mailgun_signing_key, form))


async def sendgrid_events(
    services: Services, body: bytes, signature: str | None, stamp: str | None
) -> Received:
    return await record(
        services, sendgrid.events(services.webhooks.sendgrid_public_key, body, signature, stamp)
    )


async def sendgrid_inbound(services: Services, key: str | None, form: Mapping[str, str]) -> Received:
    return await record(services, sendgrid.inbound(services.webhooks.sendgrid_inbound_key, key, form))


async def postmark_post(services: Services, authorization: str | None, body: bytes) -> Received:
    keys = services.webhooks
    return await record(
        services, postmark.records(keys.postmark_user, keys.postmark_password, authorization, body)
    )


async def ses_post(services: Services, body: bytes) -> Received:
    message = ses.envelope(body)
    sns = services.webhooks.sns
    ses.verify(message, await sns.certificate(message["SigningCertURL"]))
    if message["Type"] == "SubscriptionConfirmation":
        await sns.confirm(message["SubscribeURL"])
        return Received(confirmed_topic=message.get("TopicArn"))
    if message["Type"] != "Notification":
        return Received()
    return await record(services, ses.records(message))


async def record(services: Services, records: list[Record]) -> Received:
    received = Received()
    for item in records:
        found = await services.db(lambda s, item=item: _find(s, item))  # type: ignore[misc]
        if isinstance(found, str):
            await services.db(lambda s, item=item, why=found: _ignore(s, item, why))  # type: ignore[misc]
            received.ignored.append(item.event_id)
            continue
        await services.bus.publish(_event(item, found))
        received.recorded.append(item.event_id)
    return received


def _find(session: Session, item: Record) -> Message | str:
    """The message `item` is about, or why there is none: goalflow's id first,
    then the Message-IDs, whose local part is goalflow's id (`worker/mime.py`)."""
    candidates = [item.message_id] if item.message_id else []
    candidates += [rfc_id.partition("@")[0] for rfc_id in item.rfc_ids[:MAX_IDS]]
    for message_id in dict.fromkeys(candidates):
        message = session.get(Message, message_id)
        if message is not None:
            if session.get(Contact, message.contact_id) is None:
                return "contact gone"
            return message
    return "unknown message"


def _event(item: Record, message: Message) -> Event:
    data: dict[str, Any] = {"message_id": message.message_id, "provider": item.provider}
    if item.kind in ("opened", "clicked"):
        data["automated"] = item.automated
    if item.url:
        data["url"] = item.url
    if item.reason:
        data["reason"] = item.reason
    return Event(
        id=item.event_id,
        contact_id=message.contact_id,
        type=item.event_type,  # type: ignore[arg-type]
        occurred_at=item.occurred_at or utcnow(),
        data=data,
    )


def _ignore(session: Session, item: Record, reason: str) -> None:
    detail = {"message_id": item.message_id, "rfc_ids": list(item.rfc_ids)}
    insert_new(
        session,
        IgnoredWebhook,
        id=item.event_id,
        provider=item.provider,
        type=item.event_type,
        reason=reason,
        detail=detail,
        received_at=utcnow(),
    )
    session.commit()
