"""Every message goes through the outbox: recorded first, then handed to the
transport (SMTP, or Twilio for SMS and WhatsApp), then marked sent.
`GET /contacts/{id}/messages` lists it.

A retried send of the same step run finds its row: marked sent, it is not sent
again. Still `sending`, the earlier attempt failed or its process died; it is
sent again. That leaves one window: a process that dies after the transport
took the message and before the row is marked sent (a database write, done
before SMTP's QUIT) sends it twice on the retry; bench/smtp_crash.py measures
it. Twilio's Messages API takes no idempotency key, so an answer lost on its
way back from Twilio (a timeout after Twilio took the message) is that window too."""

import hashlib
import threading
from dataclasses import dataclass
from email.utils import formataddr, parseaddr
from typing import Any

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from shared.domain.phones import address
from shared.store.db import Message, Sender, insert_new, run_db, utcnow
from shared.store.senders import take_quota
from worker.email import OutgoingEmail
from worker.mime import build
from worker.smtp import SmtpError, SmtpServer
from worker.texts import OutgoingText
from worker.twilio import TwilioAccount, TwilioError


class DailyLimitReached(Exception):
    def __init__(self, sender: str):
        super().__init__(f"daily send limit reached ({sender})")


def message_id_for(key: str) -> str:
    # Derived from the key, so a retried send names the same message.
    return "msg_" + hashlib.sha256(key.encode()).hexdigest()[:20]


@dataclass(frozen=True)
class Sending:
    """How messages leave: the SMTP server (None: recorded only), the sender when
    a step names none, the provider whose correlation header they carry; and for
    SMS and WhatsApp, Twilio (None: recorded only), the numbers they come from
    when a step names none, and where Twilio posts their status."""

    smtp: SmtpServer | None = None
    default_sender: str = "goalflow <noreply@goalflow.localhost>"
    provider: str = "smtp"
    ses_configuration_set: str | None = None
    # Seconds one attempt may take; the activity's own bound covers the retries.
    attempt_timeout: float = 60
    twilio: TwilioAccount | None = None
    sms_from: str | None = None
    whatsapp_from: str | None = None
    # GOALFLOW_PUBLIC_URL's /webhooks/twilio.
    status_callback: str | None = None


class Outbox:
    def __init__(self, engine: Engine, sending: Sending = Sending()):
        self.engine = engine
        self.sending = sending
        # Messages the server took and not yet marked sent: marked together, in one
        # commit, so a burst of replies does not wait on one commit each.
        self._taken: set[str] = set()
        self._taken_lock = threading.Lock()
        self._marking = threading.Lock()

    async def send(self, email: OutgoingEmail, unsubscribe_url: str | None = None) -> str:
        """Record and deliver `email` once per idempotency key; its message id.
        An internal message (a notify step's) counts against no daily limit
        and carries no provider correlation header: it is not the contact's."""
        message_id = message_id_for(email.idempotency_key)
        internal = email.channel == "internal"
        sender = email.sender or self.sending.default_sender
        counted = None if internal else parseaddr(sender)[1].lower()
        fields = {**email.__dict__, "sender": sender}
        status, sender = await run_db(self.engine, lambda: self._claim(message_id, fields, counted))
        if status == "sent":
            return message_id
        if status == "refused":
            raise SmtpError("the server refused this message for good before", permanent=True)
        smtp = self.sending.smtp
        if smtp is not None:
            message = build(
                email,
                message_id,
                sender or self.sending.default_sender,
                unsubscribe_url,
                "smtp" if internal else self.sending.provider,
                self.sending.ses_configuration_set,
            )

            async def mark_sent() -> None:
                # Ahead of other database work: until it is written, a crash sends the message again.
                with self._taken_lock:
                    self._taken.add(message_id)
                await run_db(self.engine, self._mark_taken, urgent=True)

            try:
                await smtp.send(message, self.sending.attempt_timeout, accepted=mark_sent)
            except SmtpError as error:
                if error.permanent:
                    await run_db(self.engine, lambda: self._mark(message_id, "refused"))
                raise
        else:
            await run_db(self.engine, lambda: self._mark(message_id, "sent"))
        return message_id

    async def text(self, text: OutgoingText) -> str:
        """Record and send an SMS or WhatsApp message through Twilio, once per
        idempotency key; its message id. Its sender's daily limit is its number's."""
        message_id = message_id_for(text.idempotency_key)
        twilio = self.sending.twilio
        if twilio is not None and text.sender is None:  # Refused before anything is recorded.
            raise TwilioError(
                f"no number to send {text.channel} from: the step names none, and "
                f"GOALFLOW_TWILIO_{'WHATSAPP_' if text.channel == 'whatsapp' else ''}FROM is unset",
                permanent=True,
            )
        fields = {**text.__dict__, "subject": ""}
        status, _ = await run_db(self.engine, lambda: self._claim(message_id, fields, text.sender))
        if status == "sent":
            return message_id
        if status == "refused":
            raise TwilioError("Twilio refused this message for good before", permanent=True)
        sid = None
        if twilio is not None:
            try:
                sid = await twilio.create_message(
                    self._twilio_fields(text, message_id), self.sending.attempt_timeout
                )
            except TwilioError as error:
                if error.permanent:
                    await run_db(self.engine, lambda: self._mark(message_id, "refused"))
                raise
        await run_db(self.engine, lambda: self._mark(message_id, "sent", provider_id=sid), urgent=True)
        return message_id

    def _twilio_fields(self, text: OutgoingText, message_id: str) -> dict[str, str]:
        fields = {"To": address(text.channel, text.to), "From": address(text.channel, text.sender or "")}
        if text.template is not None:
            fields |= {"ContentSid": text.template, "ContentVariables": text.body}
        else:
            fields["Body"] = text.body
        if self.sending.status_callback:
            # Our id in the URL Twilio signs: its status maps to the message even
            # before its SID is recorded.
            fields["StatusCallback"] = f"{self.sending.status_callback}?message_id={message_id}"
        return fields

    def _claim(self, message_id: str, fields: dict[str, Any], counted: str | None) -> tuple[str, str | None]:
        """Record the message, counted against the daily limit of the sender
        registered as `counted` (None: not counted) in the same transaction; its
        status and sender. A retry finds the row, and counts nothing again."""
        with Session(self.engine) as session:
            known = session.exec(
                select(Message.status, Message.sender).where(Message.message_id == message_id)
            )
            found = known.first()
            if found is not None:
                return found[0], found[1]
            sender = fields["sender"]
            registered = session.get(Sender, counted) if counted else None
            if registered is not None:
                if fields["channel"] == "email" and "<" not in sender:
                    sender = formataddr((registered.name, registered.address))
                if registered.daily_limit is not None and not take_quota(session, registered):
                    raise DailyLimitReached(registered.address)
            values = {**fields, "sender": sender}
            if not insert_new(
                session, Message, message_id=message_id, status="sending", created_at=utcnow(), **values
            ):
                session.rollback()  # A concurrent attempt of the same step run recorded it first.
                return self._claim(message_id, fields, counted)
            session.commit()
            return "sending", sender

    def _mark_taken(self) -> None:
        # Held through the commit: a caller whose message an earlier call took
        # returns only once that call has written it.
        with self._marking:
            with self._taken_lock:
                taken, self._taken = self._taken, set()
            if not taken:
                return
            try:
                with Session(self.engine) as session:
                    statement = (
                        update(Message).where(col(Message.message_id).in_(taken)).values(status="sent")
                    )
                    session.exec(statement)  # type: ignore[call-overload]
                    session.commit()
            except BaseException:
                with self._taken_lock:
                    self._taken |= taken  # For the next call: each waiting caller makes one.
                raise

    def _mark(self, message_id: str, status: str, **more: Any) -> None:
        with Session(self.engine) as session:
            session.exec(
                update(Message).where(col(Message.message_id) == message_id).values(status=status, **more)
            )  # type: ignore[call-overload]
            session.commit()
