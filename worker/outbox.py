"""Every message goes through the outbox: recorded first, then handed to the
transport (SMTP), then marked sent. `GET /contacts/{id}/messages` lists it.

A retried send of the same step run finds its row: marked sent, it is not sent
again. Still `sending`, the earlier attempt failed or its process died; it is
sent again. That leaves one window: a process that dies after the server took
the message and before the row is marked sent (a database write, done before
QUIT) sends it twice on the retry. bench/smtp_crash.py measures it."""

import hashlib
import threading
from dataclasses import dataclass
from email.utils import formataddr, parseaddr

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from shared.store.db import Message, Sender, insert_new, run_db, utcnow
from shared.store.senders import take_quota
from worker.email import OutgoingEmail
from worker.mime import build
from worker.smtp import SmtpError, SmtpServer


class DailyLimitReached(Exception):
    def __init__(self, sender: str):
        super().__init__(f"daily send limit reached ({sender})")


def message_id_for(key: str) -> str:
    # Derived from the key, so a retried send names the same message.
    return "msg_" + hashlib.sha256(key.encode()).hexdigest()[:20]


@dataclass(frozen=True)
class Sending:
    """How messages leave: the server (None: recorded only), the sender when a
    step names none, and the provider whose correlation header they carry."""

    smtp: SmtpServer | None = None
    default_sender: str = "goalflow <noreply@goalflow.localhost>"
    provider: str = "smtp"
    ses_configuration_set: str | None = None
    # Seconds one attempt may take; the activity's own bound covers the retries.
    attempt_timeout: float = 60


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
        """Record and deliver `email` once per idempotency key; its message id."""
        message_id = message_id_for(email.idempotency_key)
        status, sender = await run_db(self.engine, lambda: self._claim(email, message_id))
        if status == "sent":
            return message_id
        if status == "refused":
            raise SmtpError("the server refused this message for good before", permanent=True)
        smtp = self.sending.smtp
        if smtp is not None:
            message = build(
                email,
                message_id,
                sender,
                unsubscribe_url,
                self.sending.provider,
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

    def _claim(self, email: OutgoingEmail, message_id: str) -> tuple[str, str]:
        """Record the message, its sender's daily count with it; its status and From.
        A retry finds the row, and counts nothing again."""
        with Session(self.engine) as session:
            known = session.exec(
                select(Message.status, Message.sender).where(Message.message_id == message_id)
            )
            found = known.first()
            if found is not None:
                return found[0], found[1] or self.sending.default_sender
            sender = email.sender or self.sending.default_sender
            registered = session.get(Sender, parseaddr(sender)[1].lower())
            if registered is not None:
                sender = formataddr((registered.name, registered.email)) if "<" not in sender else sender
                if registered.daily_limit is not None and not take_quota(session, registered):
                    raise DailyLimitReached(registered.email)
            fields = {**email.__dict__, "sender": sender}
            if not insert_new(
                session, Message, message_id=message_id, status="sending", created_at=utcnow(), **fields
            ):
                session.rollback()  # A concurrent attempt of the same step run recorded it first.
                return self._claim(email, message_id)
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

    def _mark(self, message_id: str, status: str) -> None:
        with Session(self.engine) as session:
            session.exec(update(Message).where(col(Message.message_id) == message_id).values(status=status))  # type: ignore[call-overload]
            session.commit()
