"""The loop closed: a contact gets an email over SMTP, clicks a trigger link in
it, and moves to the goal, with no event written by hand. Opens, clicks and
unsubscribes come back through signed URLs; forged ones get 404 and nothing."""

import re
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import pytest_asyncio
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from temporalio.testing import WorkflowEnvironment

from shared.store.db import EventRow, Message
from tests.builders import email, goal
from tests.conftest import Stack, make_stack
from tests.test_smtp import Mailbox, mailbox  # noqa: F401  (the fixture)
from worker.outbox import Sending
from worker.smtp import SmtpServer

pytestmark = pytest.mark.workflow


@pytest_asyncio.fixture
async def mail_stack(
    time_env: WorkflowEnvironment,
    engine: Engine,
    mailbox: tuple[Mailbox, int],  # noqa: F811
) -> AsyncIterator[Stack]:
    sending = Sending(smtp=SmtpServer("127.0.0.1", mailbox[1], tls="none"), default_sender="news@acme.test")
    async with make_stack(time_env.client, engine, time_env, sending=sending) as stack:
        yield stack


def read_long_ago(engine: Engine) -> None:
    """As if the mail had been read a while after it was sent (not prefetched on delivery)."""
    with Session(engine) as session:
        for message in session.exec(select(Message)):
            message.created_at -= timedelta(minutes=5)
            session.add(message)
        session.commit()


def events(engine: Engine, contact: str) -> list[tuple[str, dict]]:
    with Session(engine) as session:
        rows = session.exec(
            select(EventRow)
            .where(EventRow.contact_id == contact, EventRow.type != "contact.created")
            .order_by(col(EventRow.received_at))
        )
        return [(r.type, r.data) for r in rows]


def path_of(url: str) -> str:
    return url.removeprefix("http://127.0.0.1:8000")


async def test_a_click_on_a_trigger_link_in_a_real_email_moves_the_contact_to_its_goal(
    mail_stack: Stack,
    mailbox: tuple[Mailbox, int],  # noqa: F811
) -> None:
    stack, (box, _) = mail_stack, mailbox
    link = await stack.post(
        "/links", {"id": "lnk_demo", "name": "Book a demo", "url": "https://acme.test/demo"}, expect=201
    )
    assert link == {"id": "lnk_demo", "name": "Book a demo", "url": "https://acme.test/demo"}
    contact = await stack.contact(email="ada@example.test")
    steps = [
        {**email("invite"), "body": 'Book: {{ trigger_link("lnk_demo") }}'},
        {"id": "pause", "type": "wait", "duration": "P7D"},
        goal("booked", {"type": "link.clicked", "links": ["lnk_demo"]}),
    ]
    enrollment = await stack.enroll(await stack.automation(steps), contact)
    await stack.at(enrollment, "pause")
    [sent] = box.received
    [url] = re.findall(r"http://127\.0\.0\.1:8000/t/c/\S+", sent.get_body(("plain",)).get_content())
    read_long_ago(stack.engine)
    clicked = await stack.http.get(path_of(url))
    assert (clicked.status_code, clicked.headers["location"]) == (302, "https://acme.test/demo")
    state = await stack.until(enrollment, lambda s: s["status"] == "completed")
    assert state["goals_met"] == ["booked"]
    [message_id] = [m["message_id"] for m in state["messages"]]
    assert events(stack.engine, contact) == [
        ("link.clicked", {"link_id": "lnk_demo", "automated": False, "message_id": message_id}),
        ("email.clicked", {"message_id": message_id, "url": "https://acme.test/demo", "automated": False}),
    ]
    # The same URL for use outside email, signed for this contact.
    outside = await stack.get(f"/contacts/{contact}/trigger-links/lnk_demo")
    assert (await stack.http.get(path_of(outside["url"]))).headers["location"] == "https://acme.test/demo"


async def test_opens_clicks_and_unsubscribes_come_back_and_prefetches_are_automated(
    mail_stack: Stack,
    mailbox: tuple[Mailbox, int],  # noqa: F811
) -> None:
    stack, (box, _) = mail_stack, mailbox
    contact = await stack.contact(email="ada@example.test")
    html = '<p><a href="https://acme.test/sale">Sale</a></p>'
    enrollment = await stack.enroll(await stack.automation([{**email("news"), "html": html}]), contact)
    state = await stack.until(enrollment, lambda s: s["status"] == "completed")
    [message_id] = [m["message_id"] for m in state["messages"]]
    [sent] = box.received
    rich = sent.get_body(("html",)).get_content()
    [click] = re.findall(r'href="(http://127\.0\.0\.1:8000/t/c/[^"]+)"', rich)
    [pixel] = re.findall(r'src="(http://127\.0\.0\.1:8000/t/o/[^"]+)"', rich)
    # A scanner on delivery, then the reader minutes later.
    scanned = await stack.http.get(path_of(click))
    assert scanned.status_code == 302
    read_long_ago(stack.engine)
    opened = await stack.http.get(path_of(pixel), headers={"User-Agent": "Mozilla/5.0"})
    assert (opened.status_code, opened.headers["content-type"]) == (200, "image/gif")
    proxied = await stack.http.get(
        path_of(pixel), headers={"User-Agent": "Mozilla/5.0 (via ggpht.com GoogleImageProxy)"}
    )
    assert proxied.status_code == 200
    unsubscribe = sent["List-Unsubscribe"].strip("<>")
    page = await stack.http.get(path_of(unsubscribe))
    assert page.status_code == 200 and "ada@example.test" in page.text and "<form" in page.text
    done = await stack.http.post(
        path_of(unsubscribe), content="List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )  # fmt: skip
    assert done.status_code == 200
    assert events(stack.engine, contact) == [
        ("email.clicked", {"message_id": message_id, "url": "https://acme.test/sale", "automated": True}),
        ("email.opened", {"message_id": message_id, "automated": False}),
        ("email.opened", {"message_id": message_id, "automated": True}),
        ("email.unsubscribed", {"message_id": message_id}),
    ]
    after = await stack.get(f"/contacts/{contact}")
    assert (after["unsubscribed"], after["consent"]) == (True, {"email": "unsubscribed"})
    # Resubscribing is the contact's choice, given back through the API.
    await stack.http.patch(f"/contacts/{contact}", json={"consent": {"email": "subscribed"}})
    after = await stack.get(f"/contacts/{contact}")
    assert (after["unsubscribed"], after["consent"]) == (False, {"email": "subscribed"})
    assert events(stack.engine, contact)[-1] == ("email.resubscribed", {})


async def test_an_altered_or_forged_tracking_url_gets_404_and_records_nothing(
    mail_stack: Stack,
    mailbox: tuple[Mailbox, int],  # noqa: F811
) -> None:
    stack, (box, _) = mail_stack, mailbox
    contact = await stack.contact(email="ada@example.test")
    body = "Go https://acme.test/ok"
    enrollment = await stack.enroll(await stack.automation([{**email("news"), "body": body}]), contact)
    await stack.until(enrollment, lambda s: s["status"] == "completed")
    [url] = re.findall(
        r"http://127\.0\.0\.1:8000/t/c/\S+", box.received[0].get_body(("plain",)).get_content()
    )
    token = path_of(url).removeprefix("/t/c/")
    claims, mac = token.split(".")
    elsewhere = claims[:-2] + ("AA" if claims[-2:] != "AA" else "BB")
    for forged in (f"{elsewhere}.{mac}", f"{claims}.{mac[:-1]}", "x", f"{claims}.{mac}x"):
        answer = await stack.http.get(f"/t/c/{forged}")
        assert answer.status_code == 404 and "location" not in answer.headers, forged
        assert (await stack.http.get(f"/t/o/{forged}")).status_code == 404
        assert (await stack.http.post(f"/t/u/{forged}")).status_code == 404
    assert (await stack.http.get(f"/t/o/{token}")).status_code == 404  # A click token is no open token.
    assert events(stack.engine, contact) == []
