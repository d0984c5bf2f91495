"""Providers' webhooks through the API, about mail the engine really sent over
SMTP: Mailgun's documented payloads, signed with a test key as Mailgun signs,
meet goals, change consent and count once; unsigned posts store nothing; posts
about unknown messages are acknowledged and kept as ignored; replies through
each provider's inbound webhook; SendGrid, Postmark and SES (through SNS) too."""

import base64
import hashlib
import hmac
import json
import re
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from temporalio.testing import WorkflowEnvironment

from shared.services.webhook_keys import WebhookKeys
from shared.store.db import EventRow, IgnoredWebhook
from tests.builders import email, goal
from tests.conftest import Stack, make_stack
from tests.test_smtp import Mailbox, mailbox  # noqa: F401  (the fixture)
from worker.outbox import Sending
from worker.smtp import SmtpServer

pytestmark = pytest.mark.workflow

FIXTURES = Path(__file__).parent / "fixtures" / "providers"
MAILGUN_KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"  # a test key, shaped like Mailgun's
SENDGRID_KEY = ec.generate_private_key(ec.SECP256R1())
SENDGRID_PUBLIC = base64.b64encode(
    SENDGRID_KEY.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
).decode()
INBOUND_KEY = "inbound-secret"
POSTMARK = ("hooks", "s3cret-password")


def fixture(path: str) -> Any:
    return json.loads((FIXTURES / path).read_text())


@pytest_asyncio.fixture
async def mail_stack(
    time_env: WorkflowEnvironment,
    engine: Engine,
    mailbox: tuple[Mailbox, int],  # noqa: F811
) -> AsyncIterator[Stack]:
    sending = Sending(
        smtp=SmtpServer("127.0.0.1", mailbox[1], tls="none"),
        default_sender="Acme <news@acme.test>",
        provider="mailgun",
    )
    keys = WebhookKeys(
        mailgun_signing_key=MAILGUN_KEY,
        sendgrid_public_key=SENDGRID_PUBLIC,
        sendgrid_inbound_key=INBOUND_KEY,
        postmark_user=POSTMARK[0],
        postmark_password=POSTMARK[1],
    )
    async with make_stack(time_env.client, engine, time_env, sending=sending, webhook_keys=keys) as stack:
        yield stack


def mailgun_post(event_data: dict[str, Any], key: str = MAILGUN_KEY) -> dict[str, Any]:
    """A webhook post as Mailgun signs it: HMAC-SHA256 of timestamp + token."""
    stamp, token = "1529006854", uuid.uuid4().hex + uuid.uuid4().hex[:18]
    signature = hmac.new(key.encode(), (stamp + token).encode(), hashlib.sha256).hexdigest()
    return {
        "signature": {"timestamp": stamp, "token": token, "signature": signature},
        "event-data": event_data,
    }


def about(sent: EmailMessage, example: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """Mailgun's documented event, about `sent`: its variables echoed as Mailgun
    echoes X-Mailgun-Variables, its Message-ID in the message's headers, and
    happening now (the documented times are years before any enrollment: G2)."""
    headers = {**example.get("message", {}).get("headers", {}), "message-id": sent["Message-ID"].strip("<>")}
    return {
        **example,
        "user-variables": json.loads(sent["X-Mailgun-Variables"]),
        "message": {**example.get("message", {}), "headers": headers},
        "timestamp": time.time(),
        **changes,
    }


def events(engine: Engine, contact: str) -> list[tuple[str, str]]:
    with Session(engine) as session:
        rows = session.exec(
            select(EventRow)
            .where(EventRow.contact_id == contact, EventRow.type != "contact.created")
            .order_by(col(EventRow.received_at))
        )
        return [(r.id, r.type) for r in rows]


def ignored(engine: Engine) -> list[tuple[str, str, str]]:
    with Session(engine) as session:
        return [(r.id, r.type, r.reason) for r in session.exec(select(IgnoredWebhook))]


async def send_one(
    stack: Stack, box: Mailbox, contact: str, steps: list[dict[str, Any]]
) -> tuple[str, EmailMessage]:
    enrollment = await stack.enroll(await stack.automation(steps), contact)
    await stack.until(enrollment, lambda s: len(s["messages"]) >= 1)
    return enrollment, box.received[-1]


async def test_a_mailgun_open_then_click_meets_an_email_goal_and_a_retry_counts_once(
    mail_stack: Stack,
    mailbox: tuple[Mailbox, int],  # noqa: F811
) -> None:
    stack, (box, _) = mail_stack, mailbox
    contact = await stack.contact(email="ada@example.test")
    steps = [email("welcome"), {"id": "pause", "type": "wait", "duration": "P7D"}]
    steps.append(goal("engaged", {"type": "email", "actions": ["clicked"]}))
    enrollment, sent = await send_one(stack, box, contact, steps)
    await stack.at(enrollment, "pause")
    # Apple's prefetch, as Mailgun flags it: recorded, and no goal (G14).
    bot = about(
        sent,
        fixture("mailgun/opened.json"),
        **{"client-info": fixture("mailgun/opened_bot.json")["client-info"]},
    )
    answer = await stack.http.post("/webhooks/mailgun", json=mailgun_post(bot))
    assert (answer.status_code, answer.json()) == (
        200,
        {"recorded": ["-laxIqj9QWubsjY_3pTq_g"], "ignored": [], "confirmed_topic": None},
    )
    click = mailgun_post(about(sent, fixture("mailgun/clicked.json")))
    assert (await stack.http.post("/webhooks/mailgun", json=click)).status_code == 200
    state = await stack.until(enrollment, lambda s: s["status"] == "completed")
    assert state["goals_met"] == ["engaged"]
    [move] = [h for h in state["history"] if h["outcome"] == "goal_met"]
    assert (move["step_id"], move["detail"]["event_id"]) == ("engaged", "G5zMz2ysS6OxZ2C8xb2Tqg")
    # Mailgun retries, signed anew: the same event id, recorded once.
    again = await stack.http.post("/webhooks/mailgun", json=mailgun_post(click["event-data"]))
    assert again.json()["recorded"] == ["G5zMz2ysS6OxZ2C8xb2Tqg"]
    assert events(stack.engine, contact) == [
        ("-laxIqj9QWubsjY_3pTq_g", "email.opened"),
        ("G5zMz2ysS6OxZ2C8xb2Tqg", "email.clicked"),
    ]
    with Session(stack.engine) as session:
        row = session.get(EventRow, "G5zMz2ysS6OxZ2C8xb2Tqg")
        assert row and row.data == {
            "message_id": json.loads(sent["X-Mailgun-Variables"])["goalflow_message_id"],
            "provider": "mailgun",
            "automated": False,
            "url": "http://example.com/signup",
        }


async def test_complaints_and_bounces_change_consent_and_a_later_send_is_skipped(
    mail_stack: Stack,
    mailbox: tuple[Mailbox, int],  # noqa: F811
) -> None:
    stack, (box, _) = mail_stack, mailbox
    ada = await stack.contact(email="ada@example.test")
    bob = await stack.contact(email="bob@example.test", first_name="Bob")
    _, to_ada = await send_one(stack, box, ada, [email("welcome")])
    _, to_bob = await send_one(stack, box, bob, [email("welcome")])
    # A temporary failure is recorded and changes nothing; then the permanent one.
    for example in ("failed_temporary", "failed_permanent"):
        post = mailgun_post(about(to_bob, fixture(f"mailgun/{example}.json")))
        assert (await stack.http.post("/webhooks/mailgun", json=post)).status_code == 200
        if example == "failed_temporary":
            assert (await stack.get(f"/contacts/{bob}"))["consent"] == {}
    complaint = mailgun_post(about(to_ada, fixture("mailgun/complained.json")))
    assert (await stack.http.post("/webhooks/mailgun", json=complaint)).status_code == 200
    assert [
        (c["consent"], c["unsubscribed"]) for c in [await stack.get(f"/contacts/{x}") for x in (ada, bob)]
    ] == [
        ({"email": "complained"}, True),
        ({"email": "bounced"}, True),
    ]
    assert [t for _, t in events(stack.engine, bob)] == ["email.deferred", "email.bounced"]
    later = await stack.enroll(await stack.automation([email("again")]), ada)
    state = await stack.until(later, lambda s: s["status"] == "completed")
    assert (state["history"][0]["outcome"], state["history"][0]["detail"]) == (
        "skipped",
        {"reason": "contact is complained"},
    )
    assert len(box.received) == 2


async def test_a_bad_signature_is_401_with_nothing_stored_and_an_unknown_message_is_ignored(
    mail_stack: Stack,
    mailbox: tuple[Mailbox, int],  # noqa: F811
) -> None:
    stack, (box, _) = mail_stack, mailbox
    contact = await stack.contact(email="ada@example.test")
    _, sent = await send_one(stack, box, contact, [email("welcome")])
    opened = about(sent, fixture("mailgun/opened.json"))
    forged = mailgun_post(opened, key="key-not-ours")
    unsigned = {"event-data": opened}
    for body in (forged, unsigned):
        answer = await stack.http.post("/webhooks/mailgun", json=body)
        assert answer.status_code == 401 and answer.headers["www-authenticate"].startswith("Basic")
    assert (await stack.http.post("/webhooks/mailgun", content=b"not json")).status_code == 401
    assert events(stack.engine, contact) == [] and ignored(stack.engine) == []
    # Mailgun's documented event as it is: about a message goalflow never sent.
    stranger = await stack.http.post(
        "/webhooks/mailgun", json=mailgun_post(fixture("mailgun/delivered.json"))
    )
    assert (stranger.status_code, stranger.json()["ignored"]) == (200, ["hK7mQVt1QtqRiOfQXta4sw"])
    assert ignored(stack.engine) == [("hK7mQVt1QtqRiOfQXta4sw", "email.delivered", "unknown message")]
    # A signed post that is not Mailgun's format at all.
    malformed = mailgun_post({"event": "opened"}) | {"event-data": "nope"}
    assert (await stack.http.post("/webhooks/mailgun", json=malformed)).status_code == 400


def reply_headers(sent: EmailMessage) -> dict[str, str]:
    return {"Message-Id": f"<reply-{uuid.uuid4().hex}@mail.example.test>", "In-Reply-To": sent["Message-ID"]}


async def test_replies_through_each_providers_inbound_webhook_are_email_replied(
    mail_stack: Stack,
    mailbox: tuple[Mailbox, int],  # noqa: F811
) -> None:
    stack, (box, _) = mail_stack, mailbox
    contact = await stack.contact(email="ada@example.test")
    _, sent = await send_one(stack, box, contact, [email("welcome")])
    message_id = json.loads(sent["X-Mailgun-Variables"])["goalflow_message_id"]
    assert sent["Message-ID"] == f"<{message_id}@acme.test>"
    # Mailgun route forward: the documented fields, every MIME header among them, signed.
    headers = reply_headers(sent)
    stamp, token = "1529006854", uuid.uuid4().hex
    form = {
        "recipient": "news@acme.test", "sender": "ada@example.test", "from": "Ada <ada@example.test>",
        "subject": "Re: Hello Ada", "body-plain": "Yes please", "stripped-text": "Yes please",
        "timestamp": stamp, "token": token,
        "signature": hmac.new(MAILGUN_KEY.encode(), (stamp + token).encode(), hashlib.sha256).hexdigest(),
        "message-headers": json.dumps([[k, v] for k, v in headers.items()]), **headers,
    }  # fmt: skip
    assert (await stack.http.post("/webhooks/mailgun", data=form)).json()["recorded"]
    assert (
        await stack.http.post("/webhooks/mailgun", data={**form, "signature": "0" * 64})
    ).status_code == 401
    # SendGrid Inbound Parse: multipart, the raw headers in `headers`; the URL carries the key.
    raw = "".join(f"{k}: {v}\r\n" for k, v in {**reply_headers(sent), "Subject": "Re: Hello"}.items())
    parse = {"headers": (None, raw), "text": (None, "Yes"), "from": (None, "Ada <ada@example.test>")}
    assert (await stack.http.post("/webhooks/sendgrid", files=parse)).status_code == 401
    answer = await stack.http.post(f"/webhooks/sendgrid?key={INBOUND_KEY}", files=parse)
    assert answer.status_code == 200 and answer.json()["recorded"]
    # Postmark inbound: its documented JSON, a reply's headers in `Headers`.
    inbound = fixture("postmark/inbound.json")
    inbound["Headers"] += [{"Name": k, "Value": v} for k, v in reply_headers(sent).items()][1:]
    auth = (POSTMARK[0], POSTMARK[1])
    assert (await stack.http.post("/webhooks/postmark", json=inbound, auth=auth)).json()["recorded"]
    assert (
        await stack.http.post("/webhooks/postmark", json=inbound, auth=(POSTMARK[0], "no"))
    ).status_code == 401
    assert [t for _, t in events(stack.engine, contact)] == ["email.replied"] * 3


async def test_sendgrid_and_postmark_documented_events_about_a_sent_message(
    mail_stack: Stack,
    mailbox: tuple[Mailbox, int],  # noqa: F811
) -> None:
    stack, (box, _) = mail_stack, mailbox
    contact = await stack.contact(email="ada@example.test")
    _, sent = await send_one(stack, box, contact, [email("welcome")])
    message_id = json.loads(sent["X-Mailgun-Variables"])["goalflow_message_id"]
    batch = [
        {**e, "goalflow_message_id": message_id, "sg_event_id": f"sg-{i}", "timestamp": int(time.time())}
        for i, e in enumerate(fixture("sendgrid/events.json"))
        if e["event"] in ("delivered", "open", "click")
    ]
    body = json.dumps(batch).encode()
    stamp = "1600112502"
    signature = base64.b64encode(SENDGRID_KEY.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))).decode()
    signed = {
        "X-Twilio-Email-Event-Webhook-Signature": signature,
        "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
    }
    answer = await stack.http.post("/webhooks/sendgrid", content=body, headers=signed)
    assert answer.json()["recorded"] == ["sg-2", "sg-3", "sg-4"]
    tampered = await stack.http.post(
        "/webhooks/sendgrid", content=body.replace(b"250 OK", b"251 OK"), headers=signed
    )
    assert tampered.status_code == 401
    record = {**fixture("postmark/open.json"), "Metadata": {"goalflow_message_id": message_id}}
    record["ReceivedAt"] = datetime.now(UTC).isoformat()
    assert (await stack.http.post("/webhooks/postmark", json=record, auth=POSTMARK)).json()["recorded"]
    assert [t for _, t in events(stack.engine, contact)] == [
        "email.delivered",
        "email.opened",
        "email.clicked",
        "email.opened",
    ]
    assert re.fullmatch(r"postmark_[0-9a-f]{32}", events(stack.engine, contact)[-1][0])
