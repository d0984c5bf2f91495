"""Each provider's signature checked as the provider documents it, against the
provider's own examples (tests/fixtures/providers/README.md names the sources),
and their documented payloads read as goalflow's events."""

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from shared.domain.criteria import EmailCriterion, matches
from shared.domain.events import Event
from shared.domain.providers import Record, Unsigned, mailgun, postmark, replied_to, sendgrid, ses

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).parent / "fixtures" / "providers"
AMAZON_CERT = (
    FIXTURES / "ses" / "SimpleNotificationService-7506a1e35b36ef5a444dd1a8e7cc3ed8.pem"
).read_bytes()


def fixture(path: str) -> Any:
    return json.loads((FIXTURES / path).read_text())


def kinds(records: list[Record]) -> list[tuple[str, ...]]:
    return [(r.kind, r.event_id, r.url, r.automated) for r in records]  # type: ignore[misc]


# SendGrid: sendgrid-python's test vectors, verified exactly.
VECTOR = fixture("sendgrid/test_vector.json")


def test_sendgrids_own_signed_example_verifies_with_its_public_key() -> None:
    sendgrid.verify(
        VECTOR["public_key"], VECTOR["payload"].encode(), VECTOR["signature"], VECTOR["timestamp"]
    )
    # Its payload is a `dropped` event: signed, and nothing goalflow records.
    assert (
        sendgrid.events(
            VECTOR["public_key"], VECTOR["payload"].encode(), VECTOR["signature"], VECTOR["timestamp"]
        )
        == []
    )


@pytest.mark.parametrize(
    "key, payload, signature, stamp",
    [
        (VECTOR["other_public_key"], VECTOR["payload"], VECTOR["signature"], VECTOR["timestamp"]),
        (VECTOR["public_key"], "payload", VECTOR["signature"], VECTOR["timestamp"]),
        (VECTOR["public_key"], VECTOR["payload"], VECTOR["other_signature"], VECTOR["timestamp"]),
        (VECTOR["public_key"], VECTOR["payload"], VECTOR["signature"], "timestamp"),
        (VECTOR["public_key"], VECTOR["payload"], None, VECTOR["timestamp"]),
        (None, VECTOR["payload"], VECTOR["signature"], VECTOR["timestamp"]),
    ],
    ids=["other key", "other payload", "other signature", "other timestamp", "no signature", "no key"],
)
def test_sendgrid_refuses_what_its_key_did_not_sign(
    key: str | None, payload: str, signature: str | None, stamp: str
) -> None:
    with pytest.raises(Unsigned):
        sendgrid.verify(key, payload.encode(), signature, stamp)


def test_sendgrids_documented_events_read_as_goalflows() -> None:
    records = [sendgrid._record(e) for e in fixture("sendgrid/events.json")]
    assert [(r.kind, r.url, r.rfc_ids) if r else None for r in records] == [
        None,  # processed
        ("deferred", None, ("14c5d75ce93.dfd.64b469@ismtpd-555",)),
        ("delivered", None, ("14c5d75ce93.dfd.64b469@ismtpd-555",)),
        ("opened", None, ("14c5d75ce93.dfd.64b469@ismtpd-555",)),
        ("clicked", "http://www.sendgrid.com/", ("14c5d75ce93.dfd.64b469@ismtpd-555",)),
        ("bounced", None, ("14c5d75ce93.dfd.64b469@ismtpd-555",)),
        None,  # dropped: refused before sending, no new fact about the address
        ("complained", None, ("14c5d75ce93.dfd.64b469@ismtpd-555",)),
        ("unsubscribed", None, ("14c5d75ce93.dfd.64b469@ismtpd-555",)),
        ("unsubscribed", None, ("14c5d75ce93.dfd.64b469@ismtpd-555",)),  # group_unsubscribe
        None,  # group_resubscribe: consent comes back only through the API
    ]
    assert records[5] and records[5].reason == "500 unknown recipient"
    assert records[2] and records[2].occurred_at == datetime(2017, 12, 15, 0, 59, 29, tzinfo=UTC)
    machine = sendgrid._record({**fixture("sendgrid/events.json")[3], "sg_machine_open": True})
    assert machine and machine.automated


# Amazon SNS: messages Amazon signed, from the AWS SDK for Java's tests, with Amazon's certificate.
@pytest.mark.parametrize(
    "name", ["sns_notification_v1", "sns_notification_v2", "sns_subscription_confirmation"]
)
def test_amazons_own_signed_messages_verify_with_amazons_certificate(name: str) -> None:
    raw = (FIXTURES / "ses" / f"{name}.json").read_bytes()
    message = ses.envelope(raw)
    ses.verify(message, AMAZON_CERT)
    tampered = ses.envelope(raw.replace(b"2026-03-06T", b"2026-03-07T"))
    with pytest.raises(Unsigned):
        ses.verify(tampered, AMAZON_CERT)


def test_a_notification_that_is_not_an_ses_event_records_nothing() -> None:
    assert ses.records(ses.envelope((FIXTURES / "ses" / "sns_notification_v1.json").read_bytes())) == []


@pytest.mark.parametrize(
    "url, ok",
    [
        (
            "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-7506a1e35b36ef5a444dd1a8e7cc3ed8.pem",
            True,
        ),
        ("https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-x.pem", True),
        ("http://sns.us-west-2.amazonaws.com/SimpleNotificationService-x.pem", False),
        ("https://sns.us-west-2.amazonaws.com.evil.test/x.pem", False),
        ("https://evil.test/sns.us-west-2.amazonaws.com/x.pem", False),
        ("https://sns.us-west-2.amazonaws.com:8443/x.pem", False),
        ("https://user@sns.us-west-2.amazonaws.com/x.pem", False),
        ("https://127.0.0.1/x.pem", False),
        (None, False),
    ],
)
def test_only_amazon_sns_hosts_over_https_are_trusted(url: str | None, ok: bool) -> None:
    assert ses.sns_url(url) is ok


def sns_event(example: dict[str, Any]) -> dict[str, Any]:
    return {"Type": "Notification", "MessageId": "sns-1", "Message": json.dumps(example)}


def test_ses_documented_events_read_as_goalflows() -> None:
    found = {
        name: ses.records(sns_event(fixture(f"ses/{name}.json")))
        for name in ("bounce", "complaint", "delivery", "open", "click", "deliverydelay")
    }
    assert {n: [r.kind for r in rs] for n, rs in found.items()} == {
        "bounce": ["bounced"],
        "complaint": ["complained"],
        "delivery": ["delivered"],
        "open": ["opened"],
        "click": ["clicked"],
        "deliverydelay": ["deferred"],
    }
    [bounce] = found["bounce"]
    assert (bounce.event_id, bounce.reason) == ("sns-1", "smtp; 550 5.1.1 user unknown")
    assert (
        found["click"][0].url == "http://docs.aws.amazon.com/ses/latest/DeveloperGuide/send-email-smtp.html"
    )
    tagged = fixture("ses/open.json")
    tagged["mail"]["tags"]["goalflow_message_id"] = ["msg_0123456789abcdef0123"]
    assert ses.records(sns_event(tagged))[0].message_id == "msg_0123456789abcdef0123"
    transient = fixture("ses/bounce.json")
    transient["bounce"]["bounceType"] = "Transient"
    assert ses.records(sns_event(transient))[0].kind == "deferred"


# Mailgun publishes payloads, not signed posts: signed here as its docs say.
KEY = "key-for-tests-only"


def mailgun_post(event_data: dict[str, Any], key: str = KEY) -> bytes:
    stamp, token = "1529006854", "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0"
    signature = hmac.new(key.encode(), (stamp + token).encode(), hashlib.sha256).hexdigest()
    return json.dumps(
        {"signature": {"timestamp": stamp, "token": token, "signature": signature}, "event-data": event_data}
    ).encode()


def test_mailgun_posts_verify_with_the_signing_key_only() -> None:
    post = mailgun_post(fixture("mailgun/delivered.json"))
    assert [r.kind for r in mailgun.webhook(KEY, post)] == ["delivered"]
    for key in ("another-key", None):
        with pytest.raises(Unsigned):
            mailgun.webhook(key, post)
    with pytest.raises(Unsigned):
        mailgun.webhook(KEY, mailgun_post(fixture("mailgun/delivered.json"), key="another-key"))
    with pytest.raises(Unsigned):
        mailgun.webhook(KEY, json.dumps({"event-data": fixture("mailgun/delivered.json")}).encode())


def test_mailguns_documented_events_read_as_goalflows() -> None:
    read = {
        name: mailgun._record(fixture(f"mailgun/{name}.json"))
        for name in (
            "delivered",
            "opened",
            "clicked",
            "unsubscribed",
            "complained",
            "failed_permanent",
            "failed_temporary",
        )
    }
    assert {n: (r.kind, r.event_id, r.rfc_ids) for n, r in read.items() if r} == {
        "delivered": (
            "delivered",
            "hK7mQVt1QtqRiOfQXta4sw",
            ("20180622182958.1.48906CB188F1A454@exmple.org",),
        ),
        "opened": ("opened", "-laxIqj9QWubsjY_3pTq_g", ("20130821005614.19826.35976@samples.mailgun.org",)),
        "clicked": ("clicked", "G5zMz2ysS6OxZ2C8xb2Tqg", ("20130821085807.30688.67706@samples.mailgun.org",)),
        "unsubscribed": (
            "unsubscribed",
            "W3X4JOhFT-OZidZGKKr9iA",
            ("20130822232216.13966.79700@samples.mailgun.org",),
        ),
        "complained": ("complained", "ncV2XwymRUKbPek_MIM-Gw", ("20130718032413.263EE2E0926@example.com",)),
        "failed_permanent": (
            "bounced",
            "pl271FzxTTmGRW8Uj3dUWw",
            ("20180622211249.1.2A6098970A380E12@example.org",),
        ),
        "failed_temporary": (
            "deferred",
            "xYrATi63Rke8EC_s7EoJeA",
            ("20221006142837.1618e01bf42da9fa@test.com",),
        ),
    }
    assert read["clicked"] and read["clicked"].url == "http://example.com/signup"
    assert read["opened"] and not read["opened"].automated
    bot = mailgun._record(
        {**fixture("mailgun/opened.json"), "client-info": fixture("mailgun/opened_bot.json")["client-info"]}
    )
    assert bot and bot.automated
    variables = {
        **fixture("mailgun/opened.json"),
        "user-variables": {"goalflow_message_id": "msg_0123456789abcdef0123"},
    }
    assert (opened := mailgun._record(variables)) and opened.message_id == "msg_0123456789abcdef0123"


# Postmark: its documented payloads, and basic auth as it advises.
def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_postmark_posts_need_the_configured_basic_credentials() -> None:
    body = (FIXTURES / "postmark" / "delivery.json").read_bytes()
    assert [r.kind for r in postmark.records("hooks", "s3cret", basic("hooks", "s3cret"), body)] == [
        "delivered"
    ]
    for authorization in (
        basic("hooks", "wrong"),
        basic("other", "s3cret"),
        "Bearer s3cret",
        "Basic !!",
        None,
    ):
        with pytest.raises(Unsigned):
            postmark.records("hooks", "s3cret", authorization, body)
    with pytest.raises(Unsigned):
        postmark.records(None, None, basic("hooks", "s3cret"), body)


def test_postmarks_documented_records_read_as_goalflows() -> None:
    read = {
        name: postmark._record(fixture(f"postmark/{name}.json"))
        for name in ("delivery", "bounce", "spam_complaint", "open", "click", "subscription_change")
    }
    assert {n: r.kind for n, r in read.items() if r} == {
        "delivery": "delivered",
        "bounce": "bounced",
        "spam_complaint": "complained",
        "open": "opened",
        "click": "clicked",
        "subscription_change": "unsubscribed",
    }
    # Bounces and complaints have Postmark's own id; the rest a derived one, the same each time.
    assert (
        read["bounce"] and read["bounce"].event_id,
        read["spam_complaint"] and read["spam_complaint"].event_id,
    ) == ("42", "42")
    again = postmark._record(fixture("postmark/delivery.json"))
    assert read["delivery"] and again and read["delivery"].event_id == again.event_id
    assert again.event_id.startswith("postmark_")
    soft = postmark._record(
        {**fixture("postmark/bounce.json"), "Type": "SoftBounce", "TypeCode": 4096, "Inactive": False}
    )
    assert soft and soft.kind == "deferred"
    assert read["click"] and read["click"].url == "https://yourdomain.com/pricing"


def test_replies_name_their_messages_newest_first() -> None:
    assert replied_to("<a@x>", "<c@x> <b@x> <a@x>") == ("a@x", "b@x", "c@x")
    assert replied_to(None, None) == ()


# Criteria: providers report one spam complaint, which either action names.
@pytest.mark.parametrize("kind", ["email.complained", "email.spam"])
@pytest.mark.parametrize("action", ["complained", "spam"])
def test_a_complaint_meets_both_complained_and_spam(kind: str, action: str) -> None:
    event = Event(id="e", contact_id="ada", type=kind, data={"message_id": "m1"})  # type: ignore[arg-type]
    assert matches(EmailCriterion(type="email", actions=[action]), event, {"m1": "welcome"})  # type: ignore[list-item]
    assert not matches(EmailCriterion(type="email", actions=["opened"]), event, {"m1": "welcome"})
