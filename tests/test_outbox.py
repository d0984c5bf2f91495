"""The outbox on real databases: a sender's daily limit, exact under concurrency."""

import asyncio

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from shared.store.db import Message, Sender, SenderDay, utcnow
from worker.email import OutgoingEmail
from worker.outbox import DailyLimitReached, Outbox

pytestmark = pytest.mark.db


def outgoing(key: str, sender: str = "news@acme.test") -> OutgoingEmail:
    return OutgoingEmail(key, "en.1", "welcome", "ct_1", "ada@example.test", "Hi", "Body", sender)


def register(engine: Engine, daily_limit: int | None) -> None:
    with Session(engine) as session:
        session.add(
            Sender(email="news@acme.test", name="Acme News", daily_limit=daily_limit, created_at=utcnow())
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
