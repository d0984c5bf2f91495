"""Sends over SMTP to a real server on loopback (aiosmtpd): what goes out, what
a refusal does, and a goal pull while a send is being retried."""

import asyncio
import email
import email.policy
import os
import re
import threading
from collections.abc import AsyncIterator, Iterator
from email.message import EmailMessage
from typing import Any

import pytest
import pytest_asyncio
from aiosmtpd.controller import Controller
from sqlalchemy.engine import Engine
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from devstack import free_port
from shared.domain.tokens import verify
from tests.builders import email as send_step
from tests.builders import goal, tag_added
from tests.conftest import Stack, make_stack
from worker.activities.base import HEARTBEAT_EVERY
from worker.outbox import Sending
from worker.smtp import SmtpServer

pytestmark = pytest.mark.workflow
KEY = os.environ["GOALFLOW_SECRET_KEY"].encode()


class Mailbox:
    """An SMTP server's handler: keeps what it accepts; answers `replies` first, in turn."""

    def __init__(self) -> None:
        self.received: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.replies: list[str] = []
        self.refuse_all: str | None = None
        self.attempts = 0
        # Set: the server takes the message only once the test releases it. A
        # threading.Event: the server runs its own event loop, in its own thread.
        self.hold: threading.Event | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.attempts += 1
        if self.refuse_all:
            return self.refuse_all
        if self.replies:
            return self.replies.pop(0)
        if self.hold is not None:
            await asyncio.to_thread(self.hold.wait)
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.received.append(parsed)  # type: ignore[arg-type]
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box, port = Mailbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


@pytest_asyncio.fixture
async def smtp_stack(
    time_env: WorkflowEnvironment, engine: Engine, mailbox: tuple[Mailbox, int]
) -> AsyncIterator[Stack]:
    sending = Sending(
        smtp=SmtpServer("127.0.0.1", mailbox[1], tls="none"),
        default_sender="Acme <news@acme.test>",
        provider="mailgun",
    )
    async with make_stack(time_env.client, engine, time_env, sending=sending) as stack:
        yield stack


async def test_a_send_goes_out_over_smtp_as_text_and_html_with_its_headers(
    smtp_stack: Stack, mailbox: tuple[Mailbox, int]
) -> None:
    box, _ = mailbox
    contact = await smtp_stack.contact(email="ada@example.test", first_name="Ada")
    steps = [
        {
            **send_step("welcome", subject="Hi {{ contact.first_name }}"),
            "body": "Sale: https://shop.test/sale",
            "html": '<p>Hi {{ contact.first_name }}, <a href="https://shop.test/sale">sale</a></p>',
        }
    ]
    enrollment = await smtp_stack.enroll(await smtp_stack.automation(steps), contact)
    state = await smtp_stack.until(enrollment, lambda s: s["status"] == "completed")
    [message_id] = [m["message_id"] for m in state["messages"]]
    [sent] = box.received
    assert box.envelopes == [("news@acme.test", ["ada@example.test"])]
    assert (sent["From"], sent["To"], sent["Subject"]) == (
        "Acme <news@acme.test>",
        "ada@example.test",
        "Hi Ada",
    )
    assert sent["Message-ID"] == f"<{message_id}@acme.test>"
    assert sent["X-Goalflow-Message-Id"] == message_id
    assert sent["X-Mailgun-Variables"] == '{"goalflow_message_id": "' + message_id + '"}'
    assert sent.get_content_type() == "multipart/alternative"
    text, rich = (part.get_content().strip() for part in sent.iter_parts())
    # Links go through tracked URLs that stand for this message, contact and URL.
    clicked = {"m": message_id, "c": contact, "u": "https://shop.test/sale"}
    [tracked] = re.findall(r"http://127.0.0.1:8000/t/c/(\S+)", text)
    assert text == f"Sale: http://127.0.0.1:8000/t/c/{tracked}" and verify(KEY, "c", tracked) == clicked
    [tracked_html] = re.findall(r'href="http://127.0.0.1:8000/t/c/([^"]+)"', rich)
    assert verify(KEY, "c", tracked_html) == clicked and rich.startswith("<p>Hi Ada, <a")
    [opened] = re.findall(r'<img src="http://127.0.0.1:8000/t/o/([^"]+)"', rich)
    assert verify(KEY, "o", opened) == {"m": message_id, "c": contact}
    unsubscribe = sent["List-Unsubscribe"].removeprefix("<http://127.0.0.1:8000/t/u/").removesuffix(">")
    assert verify(KEY, "u", unsubscribe) == {"m": message_id, "c": contact}
    assert sent["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    [listed] = await smtp_stack.get(f"/contacts/{contact}/messages")
    assert (listed["message_id"], listed["subject"], listed["body"]) == (message_id, "Hi Ada", text)


async def test_a_step_sender_overrides_the_default(smtp_stack: Stack, mailbox: tuple[Mailbox, int]) -> None:
    box, _ = mailbox
    contact = await smtp_stack.contact(email="ada@example.test")
    steps = [{**send_step("welcome"), "sender": "Sales <sales@shop.test>"}]
    enrollment = await smtp_stack.enroll(await smtp_stack.automation(steps), contact)
    await smtp_stack.until(enrollment, lambda s: s["status"] == "completed")
    [sent] = box.received
    assert sent["From"] == "Sales <sales@shop.test>" and sent["Message-ID"].endswith("@shop.test>")


async def test_a_5xx_reply_fails_the_step_with_the_reply_and_the_contact_goes_on(
    smtp_stack: Stack, mailbox: tuple[Mailbox, int]
) -> None:
    box, _ = mailbox
    box.refuse_all = "550 5.1.1 mailbox unavailable"
    contact = await smtp_stack.contact(email="gone@example.test")
    steps = [send_step("welcome"), {"id": "after", "type": "add_tag", "tag": "reached"}]
    enrollment = await smtp_stack.enroll(await smtp_stack.automation(steps), contact)
    state = await smtp_stack.until(enrollment, lambda s: s["status"] == "completed")
    outcomes = [(h["step_id"], h["outcome"]) for h in state["history"]]
    assert outcomes[:2] == [("welcome", "failed"), ("after", "done")]
    assert "550 5.1.1 mailbox unavailable" in state["history"][0]["detail"]["error"]
    assert box.attempts == 1 and state["messages"] == []  # A 5xx is not tried again.


async def test_a_4xx_reply_is_tried_again_until_the_server_takes_it(
    smtp_stack: Stack, mailbox: tuple[Mailbox, int]
) -> None:
    box, _ = mailbox
    box.replies = ["451 4.3.0 try again later"]
    contact = await smtp_stack.contact(email="ada@example.test")
    enrollment = await smtp_stack.enroll(await smtp_stack.automation([send_step("welcome")]), contact)
    state = await smtp_stack.until(enrollment, lambda s: s["status"] == "completed")
    assert box.attempts == 2 and len(box.received) == 1
    assert [h["outcome"] for h in state["history"] if h["step_id"] == "welcome"] == ["done"]


async def test_a_goal_pull_abandons_a_send_being_retried_and_records_it_cancelled(
    smtp_stack: Stack, mailbox: tuple[Mailbox, int]
) -> None:
    box, _ = mailbox
    box.refuse_all = "451 4.7.1 greylisted"
    contact = await smtp_stack.contact(email="ada@example.test")
    steps = [send_step("welcome"), goal("bought", tag_added("bought"))]
    enrollment = await smtp_stack.enroll(await smtp_stack.automation(steps), contact)
    await smtp_stack.until(enrollment, lambda s: box.attempts >= 1)
    await smtp_stack.post(f"/contacts/{contact}/tags", {"tag": "bought"})
    state = await smtp_stack.until(enrollment, lambda s: s["status"] == "completed")
    welcome = [h for h in state["history"] if h["step_id"] == "welcome"]
    assert [(h["outcome"], h["detail"]) for h in welcome] == [("cancelled", {"goal": "bought"})]
    assert state["goals_met"] == ["bought"] and box.received == []


async def test_a_goal_pull_waits_for_the_attempt_in_flight_and_its_message_counts(
    smtp_stack: Stack, mailbox: tuple[Mailbox, int]
) -> None:
    box, _ = mailbox
    box.hold = threading.Event()
    contact = await smtp_stack.contact(email="ada@example.test")
    steps = [send_step("welcome"), goal("bought", tag_added("bought"))]
    enrollment = await smtp_stack.enroll(await smtp_stack.automation(steps), contact)
    await smtp_stack.until(enrollment, lambda s: box.attempts >= 1)
    await smtp_stack.post(f"/contacts/{contact}/tags", {"tag": "bought"})
    handle = smtp_stack.client.get_workflow_handle(enrollment)
    for _ in range(200):
        events = [e.event_type for e in (await handle.fetch_history()).events]
        if EventType.EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED in events:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the goal pull never asked the send to stop")
    # The cancellation reaches the attempt with its next heartbeat, every 2 s.
    await asyncio.sleep(3 * HEARTBEAT_EVERY)
    box.hold.set()
    state = await smtp_stack.until(enrollment, lambda s: s["status"] == "completed")
    [sent] = box.received
    [message] = state["messages"]
    assert sent["X-Goalflow-Message-Id"] == message["message_id"]
    welcome = [h["outcome"] for h in state["history"] if h["step_id"] == "welcome"]
    assert welcome == ["done"] and state["goals_met"] == ["bought"]


async def test_a_template_printing_a_field_the_contact_lacks_skips_the_send(
    smtp_stack: Stack, mailbox: tuple[Mailbox, int]
) -> None:
    box, _ = mailbox
    contact = await smtp_stack.contact(email="ada@example.test", last_name=None, attributes={"plan": "pro"})
    steps = [
        send_step("bare", subject="Hi {{ contact.company }}"),
        send_step("nameless", subject="Dear {{ contact.last_name }}"),
        send_step("kind", subject="{{ contact.company | default('Friend') }} on {{ contact.plan }}"),
    ]
    enrollment = await smtp_stack.enroll(await smtp_stack.automation(steps), contact)
    state = await smtp_stack.until(enrollment, lambda s: s["status"] == "completed")
    outcomes = [(h["step_id"], h["outcome"], h["detail"].get("reason")) for h in state["history"][:3]]
    assert outcomes == [
        ("bare", "skipped", "missing merge field contact.company"),
        ("nameless", "skipped", "missing merge field contact.last_name"),
        ("kind", "done", None),
    ]
    assert [m["Subject"] for m in box.received] == ["Friend on pro"]
