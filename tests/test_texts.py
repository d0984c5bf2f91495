"""SMS and WhatsApp through Twilio, on the time-skipping server: the steps send
to a Twilio Messages API served on loopback (tests/twilio.py), and Twilio's
status callbacks and inbound messages come back to `POST /webhooks/twilio`,
signed as Twilio signs them."""

import os
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from temporalio.testing import WorkflowEnvironment

from shared.domain.tokens import verify
from shared.domain.windows import DAYS
from shared.settings import settings
from shared.store.db import Contact, InboundMessage
from tests.builders import DAY, goal, wait
from tests.conftest import Stack, make_stack
from tests.test_tracking import events
from tests.twilio import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    SMS_FROM,
    WHATSAPP_FROM,
    FakeTwilio,
    inbound,
    serving,
    sid,
    sign,
    status_callback,
)
from worker.outbox import Sending
from worker.twilio import TwilioAccount

pytestmark = pytest.mark.workflow

KEY = os.environ["GOALFLOW_SECRET_KEY"].encode()
# GOALFLOW_PUBLIC_URL unset: where Twilio is told to post, and the URL it signs.
PUBLIC = "http://127.0.0.1:8000"
WEBHOOK = f"{PUBLIC}/webhooks/twilio"
ADA = "+14155550123"
TEMPLATE = "HXb5b62575e6e4ff6129ad7c8efe1f983e"
OUTSIDE = "outside WhatsApp's 24-hour window (the contact has not written in 24 hours), and the step has no template"


def sms(step_id: str, body: str = "Hi {{ contact.first_name }}", **more: Any) -> dict[str, Any]:
    return {"id": step_id, "type": "send_sms", "body": body, **more}


@pytest.fixture
def twilio_token() -> Iterator[None]:
    """The API verifies Twilio's webhooks with GOALFLOW_TWILIO_AUTH_TOKEN, read once per process."""
    os.environ["GOALFLOW_TWILIO_AUTH_TOKEN"] = AUTH_TOKEN
    settings.cache_clear()
    yield
    del os.environ["GOALFLOW_TWILIO_AUTH_TOKEN"]
    settings.cache_clear()


@pytest_asyncio.fixture
async def twilio() -> AsyncIterator[FakeTwilio]:
    async with serving() as fake:
        yield fake


@pytest_asyncio.fixture
async def texts(
    time_env: WorkflowEnvironment, engine: Engine, twilio: FakeTwilio, twilio_token: None
) -> AsyncIterator[Stack]:
    sending = Sending(
        twilio=TwilioAccount(ACCOUNT_SID, AUTH_TOKEN, twilio.url),
        sms_from=SMS_FROM,
        whatsapp_from=WHATSAPP_FROM,
        status_callback=WEBHOOK,
    )
    async with make_stack(time_env.client, engine, time_env, sending=sending) as stack:
        yield stack


async def webhook(
    stack: Stack, params: dict[str, str], url: str = WEBHOOK, token: str = AUTH_TOKEN
) -> httpx.Response:
    """Post as Twilio does: the form, signed for the URL Twilio was given."""
    signature = {"X-Twilio-Signature": sign(token, url, params)}
    return await stack.http.post(url.removeprefix(PUBLIC), data=params, headers=signature)


async def completed(stack: Stack, enrollment: str) -> dict[str, Any]:
    return await stack.until(enrollment, lambda s: s["status"] == "completed")


def outcomes(state: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    return [(h["step_id"], h["outcome"], h["detail"].get("reason")) for h in state["history"]]


async def test_an_sms_goes_through_twilio_and_its_delivery_comes_back_as_events(
    texts: Stack, twilio: FakeTwilio
) -> None:
    await texts.post(
        "/links", {"id": "lnk_demo", "name": "Demo", "url": "https://shop.test/demo"}, expect=201
    )
    contact = await texts.contact(phone=ADA, first_name="Ada")
    steps = [sms("hello", "Hi {{ contact.first_name }}! Book a demo: {{ trigger_link('lnk_demo') }}")]
    state = await completed(texts, await texts.enroll(await texts.automation(steps), contact))
    [message] = state["messages"]
    message_id = message["message_id"]
    assert message["channel"] == "sms" and state["history"][0]["detail"] == {"message_id": message_id}
    [sent] = twilio.messages
    assert (sent["To"], sent["From"]) == (ADA, SMS_FROM)
    # Our id in the callback URL Twilio signs: its statuses find the message.
    assert sent["StatusCallback"] == f"{WEBHOOK}?message_id={message_id}"
    greeting, token = sent["Body"].split(f"{PUBLIC}/t/c/")
    assert greeting == "Hi Ada! Book a demo: "
    assert verify(KEY, "c", token) == {"c": contact, "l": "lnk_demo", "m": message_id}
    [listed] = await texts.get(f"/contacts/{contact}/messages")
    assert {
        k: listed[k] for k in ("channel", "to", "sender", "subject", "body", "status", "provider_id")
    } == {
        "channel": "sms",
        "to": ADA,
        "sender": SMS_FROM,
        "subject": "",
        "body": sent["Body"],
        "status": "sent",
        "provider_id": sent["sid"],
    }

    # Twilio reports each step of the way: queued and sent say nothing new;
    # delivered is an event, once however often Twilio posts it.
    for status in ("queued", "sent", "delivered", "delivered"):
        answer = await webhook(texts, status_callback(sent, status), url=sent["StatusCallback"])
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/xml")
        assert answer.text == '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
    # A Messaging Service's own callback URL carries no id of ours: the SID finds the message.
    assert (await webhook(texts, status_callback(sent, "undelivered", "30003"))).status_code == 200
    # A status of a message we never sent is acknowledged, and ignored.
    stranger = {"sid": sid("SM"), "From": SMS_FROM, "To": ADA}
    assert (await webhook(texts, status_callback(stranger, "delivered"))).status_code == 200
    # The trigger link is a link click, not an email's.
    assert (await texts.http.get(f"/t/c/{token}")).headers["location"] == "https://shop.test/demo"
    found = [
        (kind, {k: v for k, v in data.items() if k != "automated"})
        for kind, data in events(texts.engine, contact)
    ]
    assert found == [
        ("sms.delivered", {"message_id": message_id, "channel": "sms", "sid": sent["sid"]}),
        (
            "sms.failed",
            {
                "message_id": message_id,
                "channel": "sms",
                "sid": sent["sid"],
                "status": "undelivered",
                "error_code": "30003",
            },
        ),
        ("link.clicked", {"link_id": "lnk_demo", "message_id": message_id}),
    ]


async def test_a_webhook_not_signed_by_twilio_is_refused_with_nothing_stored(texts: Stack) -> None:
    contact = await texts.contact(phone=ADA)
    stop = inbound(ADA, "STOP")
    forged = [
        {},  # No signature at all.
        {"X-Twilio-Signature": ""},
        {"X-Twilio-Signature": "RSOYDt4T1cUTdK1PDd93/VVr8B8="},
        {"X-Twilio-Signature": sign("another account's token", WEBHOOK, stop)},
        {"X-Twilio-Signature": sign(AUTH_TOKEN, "https://elsewhere.test/webhooks/twilio", stop)},
        {
            "X-Twilio-Signature": sign(AUTH_TOKEN, WEBHOOK, {**stop, "Body": "Hello"})
        },  # Altered after signing.
    ]
    for headers in forged:
        answer = await texts.http.post("/webhooks/twilio", data=stop, headers=headers)
        assert answer.status_code == 401, headers
        assert answer.json() == {"detail": "not signed by Twilio with this account's auth token"}
    assert events(texts.engine, contact) == []
    assert (await texts.get(f"/contacts/{contact}"))["consent"] == {}
    with Session(texts.engine) as session:
        assert session.exec(select(InboundMessage)).all() == []
    # The same message, signed: it counts.
    assert (await webhook(texts, stop)).status_code == 200
    assert (await texts.get(f"/contacts/{contact}"))["consent"] == {"sms": "unsubscribed"}


async def test_the_sending_rules_apply_to_sms(texts: Stack, twilio: FakeTwilio) -> None:
    assert (
        await texts.http.post("/senders", json={"phone": SMS_FROM, "email": "a@b.test"})
    ).status_code == 422
    too_many = await texts.http.post("/senders", json={"phone": SMS_FROM, "daily_limit": 2**40})
    assert too_many.status_code == 422  # Not a database error: the column is a 32-bit integer.
    assert ["body", "PhoneSenderIn", "daily_limit"] in [e["loc"] for e in too_many.json()["detail"]]
    number = await texts.post("/senders", {"phone": SMS_FROM, "daily_limit": 2}, expect=201)
    assert (number["phone"], number["email"], number["daily_limit"]) == (SMS_FROM, None, 2)
    created = await texts.post("/automations", {"name": "sms", "steps": [sms("hello")]}, expect=201)
    assert created["warnings"] == [
        "step 'hello': contact.first_name is printed without a default; "
        "contacts without it are skipped (missing merge field)"
    ]
    contacts = {
        "no phone": await texts.contact(),
        "stopped": await texts.contact(phone="+14155550111", consent={"sms": "unsubscribed"}),
        "blocked": await texts.contact(phone="+14155550112"),
        "nameless": await texts.contact(phone="+14155550113", first_name=None),
        "first": await texts.contact(phone="+14155550114"),
        "second": await texts.contact(phone="+14155550115"),
        "over the limit": await texts.contact(phone="+14155550116"),
    }
    with Session(texts.engine) as session:  # No route blocklists yet: the column is the rule's input.
        blocked = session.get(Contact, contacts["blocked"])
        assert blocked is not None
        blocked.blocklisted = True
        session.add(blocked)
        session.commit()
    reasons = {}
    for who, contact in contacts.items():
        [step] = (await completed(texts, await texts.enroll(created["id"], contact)))["history"][:1]
        reasons[who] = step["detail"].get("reason", step["outcome"])
    assert reasons == {
        "no phone": "contact has no phone number",
        "stopped": "contact is unsubscribed from sms",
        "blocked": "contact is blocklisted",
        "nameless": "missing merge field contact.first_name",
        "first": "done",
        "second": "done",
        "over the limit": "daily send limit reached",
    }
    assert [m["To"] for m in twilio.messages] == ["+14155550114", "+14155550115"]

    # Outside the automation's send window the send is held, not skipped.
    assert texts.env is not None
    day = (await texts.env.get_current_time()).date() + 2 * DAY
    window = {"days": [DAYS[day.weekday()]], "start": "09:00", "end": "17:00"}
    held = await texts.automation([sms("hello", "Hi")], send_window=window)
    enrollment = await texts.enroll(held, await texts.contact(phone="+14155550117"))
    state = await texts.until(enrollment, lambda s: s["history"] and s["history"][-1]["outcome"] == "held")
    assert state["history"][-1]["detail"]["until"].startswith(f"{day.isoformat()}T09:00")
    assert len(twilio.messages) == 2


async def test_twilio_refusing_an_sms_fails_the_step_and_a_5xx_is_tried_again(
    texts: Stack, twilio: FakeTwilio
) -> None:
    contact = await texts.contact(phone=ADA)
    steps = [sms("hello", "Hi"), {"id": "after", "type": "add_tag", "tag": "reached"}]
    automation = await texts.automation(steps)
    twilio.answers = [(500, 20500, "Internal Server Error")]
    state = await completed(texts, await texts.enroll(automation, contact))
    assert outcomes(state)[:2] == [("hello", "done", None), ("after", "done", None)]
    assert twilio.attempts == 2 and len(twilio.messages) == 1

    twilio.answers = [(400, 21211, f"The 'To' number {ADA} is not a valid phone number.")]
    contact = await texts.contact(phone=ADA)
    state = await completed(texts, await texts.enroll(automation, contact))
    assert outcomes(state)[:2] == [("hello", "failed", None), ("after", "done", None)]
    assert state["history"][0]["detail"]["error"] == (
        f"Twilio answered 400, error 21211: The 'To' number {ADA} is not a valid phone number."
    )
    assert twilio.attempts == 3 and state["messages"] == []  # A 4xx is not tried again.
    [refused] = await texts.get(f"/contacts/{contact}/messages")
    assert refused["status"] == "refused"


async def test_with_no_number_to_send_from_the_step_fails_and_nothing_is_recorded(
    time_env: WorkflowEnvironment, engine: Engine, twilio: FakeTwilio
) -> None:
    sending = Sending(twilio=TwilioAccount(ACCOUNT_SID, AUTH_TOKEN, twilio.url), sms_from=SMS_FROM)
    async with make_stack(time_env.client, engine, time_env, sending=sending) as stack:
        contact = await stack.contact(phone=ADA)
        chat = {"id": "chat", "type": "send_whatsapp", "template": TEMPLATE}
        state = await completed(stack, await stack.enroll(await stack.automation([chat]), contact))
        assert state["history"][0]["outcome"] == "failed"
        assert state["history"][0]["detail"]["error"] == (
            "no number to send whatsapp from: the step names none, and GOALFLOW_TWILIO_WHATSAPP_FROM is unset"
        )
        assert await stack.get(f"/contacts/{contact}/messages") == [] and twilio.attempts == 0


async def test_whatsapp_free_text_within_24_hours_of_the_contacts_message_and_a_template_outside(
    texts: Stack, twilio: FakeTwilio
) -> None:
    contact = await texts.contact(phone=ADA, first_name="Ada")
    greeting = {
        "id": "greet",
        "type": "send_whatsapp",
        "body": "Hi {{ contact.first_name }}, thanks for writing!",
        "template": TEMPLATE,
        "variables": {"1": "{{ contact.first_name }}"},
    }
    chat = {"id": "chat", "type": "send_whatsapp", "body": "Anything else?"}
    automation = await texts.automation([greeting, chat])

    # Ada never wrote: the template goes, and free text alone is skipped.
    state = await completed(texts, await texts.enroll(automation, contact))
    assert outcomes(state)[:2] == [("greet", "done", None), ("chat", "skipped", OUTSIDE)]
    [sent] = twilio.messages
    assert (sent["To"], sent["From"]) == (f"whatsapp:{ADA}", f"whatsapp:{WHATSAPP_FROM}")
    assert (sent["ContentSid"], sent["ContentVariables"]) == (TEMPLATE, '{"1": "Ada"}') and "Body" not in sent
    [listed] = await texts.get(f"/contacts/{contact}/messages")
    assert (listed["channel"], listed["template"], listed["body"]) == ("whatsapp", TEMPLATE, '{"1": "Ada"}')

    # She writes on WhatsApp: for 24 hours the free text goes, before the template.
    hello = inbound(
        f"whatsapp:{ADA}", "Hello!", to=f"whatsapp:{WHATSAPP_FROM}", ProfileName="Ada", WaId=ADA[1:]
    )
    assert (await webhook(texts, hello)).status_code == 200
    state = await completed(texts, await texts.enroll(automation, contact))
    assert outcomes(state)[:2] == [("greet", "done", None), ("chat", "done", None)]
    assert [(m.get("Body"), m.get("ContentSid")) for m in twilio.messages[1:]] == [
        ("Hi Ada, thanks for writing!", None),
        ("Anything else?", None),
    ]
    [(kind, data)] = events(texts.engine, contact)
    assert (kind, data["channel"], data["body"]) == ("sms.replied", "whatsapp", "Hello!")

    # A day later the window has closed again (WhatsApp's clock is the wall clock).
    with Session(texts.engine) as session:
        [written] = session.exec(select(InboundMessage)).all()
        written.received_at -= timedelta(hours=24, minutes=1)
        session.add(written)
        session.commit()
    state = await completed(texts, await texts.enroll(await texts.automation([chat]), contact))
    assert outcomes(state)[0] == ("chat", "skipped", OUTSIDE) and len(twilio.messages) == 3


async def test_stop_unsubscribes_from_sms_and_start_subscribes_again(
    texts: Stack, twilio: FakeTwilio
) -> None:
    contact = await texts.contact(phone=ADA)
    automation = await texts.automation([sms("hello", "Hi")])

    assert (await webhook(texts, inbound(ADA, " stop "))).status_code == 200
    assert (await texts.get(f"/contacts/{contact}"))["consent"] == {"sms": "unsubscribed"}
    state = await completed(texts, await texts.enroll(automation, contact))
    assert outcomes(state)[0] == ("hello", "skipped", "contact is unsubscribed from sms")
    assert twilio.messages == []

    # Only the whole message is a keyword.
    assert (await webhook(texts, inbound(ADA, "Stop sending me these"))).status_code == 200
    assert (await texts.get(f"/contacts/{contact}"))["consent"] == {"sms": "unsubscribed"}
    assert (await webhook(texts, inbound(ADA, "START"))).status_code == 200
    assert (await texts.get(f"/contacts/{contact}"))["consent"] == {"sms": "subscribed"}
    state = await completed(texts, await texts.enroll(automation, contact))
    assert outcomes(state)[0] == ("hello", "done", None) and len(twilio.messages) == 1

    # A Messaging Service with Advanced Opt-Out names its own keywords: OptOutType says so.
    assert (await webhook(texts, inbound(ADA, "BASTA", OptOutType="STOP"))).status_code == 200
    # On WhatsApp, STOP is WhatsApp's consent.
    stop = inbound(f"whatsapp:{ADA}", "STOP", to=f"whatsapp:{WHATSAPP_FROM}")
    assert (await webhook(texts, stop)).status_code == 200
    assert (await texts.get(f"/contacts/{contact}"))["consent"] == {
        "sms": "unsubscribed",
        "whatsapp": "unsubscribed",
    }
    found = [(kind, data["channel"], data["body"]) for kind, data in events(texts.engine, contact)]
    assert found == [
        ("sms.unsubscribed", "sms", " stop "),
        ("sms.replied", "sms", "Stop sending me these"),
        ("sms.resubscribed", "sms", "START"),
        ("sms.unsubscribed", "sms", "BASTA"),
        ("sms.unsubscribed", "whatsapp", "STOP"),
    ]
    # Consent given back through the API is an event too.
    await texts.http.patch(f"/contacts/{contact}", json={"consent": {"whatsapp": "subscribed"}})
    assert events(texts.engine, contact)[-1] == ("sms.resubscribed", {"channel": "whatsapp"})


async def test_a_reply_to_an_sms_meets_its_goal(texts: Stack, twilio: FakeTwilio) -> None:
    contact = await texts.contact(phone=ADA)
    steps = [
        sms("ask", "Can we call you tomorrow?"),
        wait("pause", "P3D"),
        goal("answered", {"type": "sms", "actions": ["replied"], "steps": ["ask"]}, if_unmet="end"),
        {"id": "call", "type": "add_tag", "tag": "to call"},
    ]
    enrollment = await texts.enroll(await texts.automation(steps), contact)
    [message] = (await texts.at(enrollment, "pause"))["messages"]

    # A number no contact has: acknowledged, nothing recorded.
    assert (await webhook(texts, inbound("+14155550199", "Who is this?"))).status_code == 200
    reply = inbound(ADA, "Sure, after 3pm")
    assert (await webhook(texts, reply)).status_code == 200
    assert (await webhook(texts, reply)).status_code == 200  # Twilio's retry counts once.
    state = await completed(texts, enrollment)
    assert state["goals_met"] == ["answered"]
    met = next(h for h in state["history"] if h["outcome"] == "goal_met")
    assert (met["step_id"], met["detail"]["from_step"], met["detail"]["moved"]) == ("answered", "pause", True)
    data = {
        "channel": "sms",
        "body": "Sure, after 3pm",
        "sid": reply["MessageSid"],
        "message_id": message["message_id"],
    }
    assert events(texts.engine, contact) == [("sms.replied", data), ("tag.added", {"tag": "to call"})]


async def test_without_twilio_texts_are_recorded_and_shown_on_the_dev_mailbox(
    stack: Stack, tmp_path: Path
) -> None:
    contact = await stack.contact(phone=ADA, first_name="Ada")
    template = {"id": "remind", "type": "send_whatsapp", "template": TEMPLATE, "variables": {"1": "Friday"}}
    state = await completed(
        stack, await stack.enroll(await stack.automation([sms("hello"), template]), contact)
    )
    assert [m["channel"] for m in state["messages"]] == ["sms", "whatsapp"]
    listed = await stack.get(f"/contacts/{contact}/messages")
    assert [(m["body"], m["status"], m["provider_id"], m["sender"]) for m in listed] == [
        ("Hi Ada", "sent", None, None),
        ('{"1": "Friday"}', "sent", None, None),
    ]
    os.environ["GOALFLOW_MAILBOX"] = str(tmp_path)
    settings.cache_clear()
    try:
        page = await stack.http.get("/dev/mailbox")
    finally:
        del os.environ["GOALFLOW_MAILBOX"]
        settings.cache_clear()
    assert page.status_code == 200
    assert "2 SMS and WhatsApp in the outbox" in page.text
    assert page.text.index(TEMPLATE) < page.text.index("<pre>Hi Ada</pre>")  # Newest first.
    assert page.text.count(f"<dd>{ADA}</dd>") == 2
