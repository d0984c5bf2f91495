"""The outbox on real databases: a sender's daily limit, exact under
concurrency; and when a message counts as sent."""

import asyncio
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from devstack import free_port
from shared.store.db import Message, Sender, SenderDay, utcnow
from worker.email import OutgoingEmail
from worker.outbox import DailyLimitReached, Outbox, Sending
from worker.smtp import SmtpServer

pytestmark = pytest.mark.db


def outgoing(key: str, sender: str = "news@acme.test") -> OutgoingEmail:
    return OutgoingEmail(key, "en.1", "welcome", "ct_1", "ada@example.test", "Hi", "Body", sender)


def register(engine: Engine, daily_limit: int | None) -> None:
    with Session(engine) as session:
        session.add(
            Sender(address="news@acme.test", name="Acme News", daily_limit=daily_limit, created_at=utcnow())
        )
        session.commit()


async def test_100_concurrent_sends_against_a_limit_of_10_send_exactly_10(engine: Engine) -> None:
    register(engine, daily_limit=10)
    outbox = Outbox(engine)
    results = await asyncio.gather(
        *(outbox.send(outgoing(f"en.{n}/welcome/1")) for n in range(100)), return_exceptions=True
    )
    sent = [r for r in results if isinstance(r, str)]
    refused = [r for r in results if isinstance(r, DailyLimitReached)]
    assert (len(sent), len(refused)) == (10, 90)
    with Session(engine) as session:
        assert len(session.exec(select(Message)).all()) == 10
        assert [day.sent for day in session.exec(select(SenderDay))] == [10]


async def test_a_retried_send_counts_once_and_the_sender_is_named_as_registered(engine: Engine) -> None:
    register(engine, daily_limit=1)
    outbox = Outbox(engine)
    first = await outbox.send(outgoing("en.1/welcome/1"))
    assert await outbox.send(outgoing("en.1/welcome/1")) == first  # A retry of the same step run.
    with pytest.raises(DailyLimitReached):
        await outbox.send(outgoing("en.2/welcome/1"))
    with Session(engine) as session:
        assert session.exec(select(Message.sender)).all() == ["Acme News <news@acme.test>"]


async def test_a_sender_without_a_limit_is_never_held_back(engine: Engine) -> None:
    register(engine, daily_limit=None)
    outbox = Outbox(engine)
    sent = await asyncio.gather(*(outbox.send(outgoing(f"en.{n}/w/1")) for n in range(20)))
    assert len(set(sent)) == 20


class StatusAtQuit:
    """An SMTP server that notes, when the client says QUIT, what the outbox has recorded."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.accepted = 0
        self.at_quit: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.accepted += 1
        return "250 OK"

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:
        with Session(self.engine) as db:
            self.at_quit.extend(db.exec(select(Message.status)).all())
        return "221 Bye"


async def test_a_message_is_marked_sent_as_soon_as_the_server_takes_it_and_a_retry_sends_nothing(
    engine: Engine,
) -> None:
    # A worker that dies after the server took the message sends it again on the
    # retry only if it died before this mark: the mark comes before QUIT.
    server, port = StatusAtQuit(engine), free_port()
    controller = Controller(server, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        outbox = Outbox(engine, Sending(smtp=SmtpServer("127.0.0.1", port, tls="none")))
        first = await outbox.send(outgoing("en.1/welcome/1"))
        assert await outbox.send(outgoing("en.1/welcome/1")) == first
    finally:
        controller.stop()
    assert server.at_quit == ["sent"] and server.accepted == 1
