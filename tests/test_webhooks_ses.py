"""Amazon SES through Amazon SNS, through the API: Amazon's own signed messages
verify with Amazon's certificate, a subscription is confirmed, SES's documented
events (signed here with a test key, as SNS signs) are recorded; and nothing is
ever fetched from a host that is not Amazon SNS's. Amazon's URLs are served
from a server on loopback by the test's HTTP transport; no test reaches out."""

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from sqlalchemy.engine import Engine
from temporalio.testing import WorkflowEnvironment

from devstack import free_port
from shared.domain.providers import ses
from shared.services.sns import AmazonSns
from shared.services.webhook_keys import WebhookKeys
from tests.builders import email
from tests.conftest import Stack, make_stack
from tests.test_webhooks import events

pytestmark = pytest.mark.workflow

FIXTURES = Path(__file__).parent / "fixtures" / "providers" / "ses"
AMAZON_CERT = "SimpleNotificationService-7506a1e35b36ef5a444dd1a8e7cc3ed8.pem"
TEST_CERT = "SimpleNotificationService-goalflow-test.pem"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def self_signed() -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(KEY.public_key())
        .serial_number(1).not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=1))
        .sign(KEY, hashes.SHA256())
    )  # fmt: skip
    return cert.public_bytes(serialization.Encoding.PEM)


@dataclass
class Loopback:
    """An HTTP server on 127.0.0.1 that counts connections and serves certificates by path."""

    files: dict[str, bytes]
    port: int = field(default_factory=free_port)
    connections: int = 0
    paths: list[str] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        path = head.split(" ")[1]
        self.paths.append(path)
        body = self.files.get(path.split("?")[0].lstrip("/"), b"<ConfirmSubscriptionResponse/>")
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
        )
        await writer.drain()
        writer.close()


@pytest_asyncio.fixture
async def amazon() -> AsyncIterator[Loopback]:
    server = Loopback({AMAZON_CERT: (FIXTURES / AMAZON_CERT).read_bytes(), TEST_CERT: self_signed()})
    listening = await asyncio.start_server(server.handle, "127.0.0.1", server.port)
    async with listening:
        yield server


class ToLoopback(httpx.AsyncBaseTransport):
    """Sends every request, Amazon's URLs included, to the loopback server instead."""

    def __init__(self, port: int):
        self.port, self.inner = port, httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_with(scheme="http", host="127.0.0.1", port=self.port)
        return await self.inner.handle_async_request(request)


@pytest_asyncio.fixture
async def ses_stack(time_env: WorkflowEnvironment, engine: Engine, amazon: Loopback) -> AsyncIterator[Stack]:
    sns = AmazonSns(httpx.AsyncClient(transport=ToLoopback(amazon.port)))
    async with make_stack(time_env.client, engine, time_env, webhook_keys=WebhookKeys(sns=sns)) as stack:
        yield stack


def signed(fields: dict[str, Any], cert: str = TEST_CERT, version: str = "2") -> dict[str, Any]:
    """An SNS message signed as SNS signs: the canonical string, RSA, SHA1 (1) or SHA256 (2)."""
    message = {
        "Type": "Notification",
        "MessageId": f"sns-{time.time_ns()}",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:ses-events",
        "Timestamp": datetime.now(UTC).isoformat(),
        "SignatureVersion": version,
        "SigningCertURL": f"https://sns.us-east-1.amazonaws.com/{cert}",
        **fields,
    }
    algorithm = hashes.SHA256() if version == "2" else hashes.SHA1()
    signature = KEY.sign(ses.canonical(message), padding.PKCS1v15(), algorithm)
    return {**message, "Signature": base64.b64encode(signature).decode()}


def ses_event(name: str, message_id: str) -> str:
    """SES's documented event, about our message (its tag, as SES echoes it), happening now."""
    event = json.loads((FIXTURES / f"{name}.json").read_text())
    event["mail"]["tags"]["goalflow_message_id"] = [message_id]
    event[event["eventType"][0].lower() + event["eventType"][1:]]["timestamp"] = datetime.now(UTC).isoformat()
    return json.dumps(event)


async def post(stack: Stack, message: dict[str, Any] | bytes) -> httpx.Response:
    # SNS posts its JSON as text/plain.
    body = message if isinstance(message, bytes) else json.dumps(message).encode()
    return await stack.http.post(
        "/webhooks/ses", content=body, headers={"Content-Type": "text/plain; charset=UTF-8"}
    )


async def test_amazons_signed_messages_verify_and_a_subscription_is_confirmed(
    ses_stack: Stack, amazon: Loopback
) -> None:
    for name in ("sns_notification_v1", "sns_notification_v2"):
        answer = await post(ses_stack, (FIXTURES / f"{name}.json").read_bytes())
        assert (answer.status_code, answer.json()) == (
            200,
            {"recorded": [], "ignored": [], "confirmed_topic": None},
        )
    tampered = (FIXTURES / "sns_notification_v1.json").read_bytes().replace(b"Hello!", b"Hello?")
    assert (await post(ses_stack, tampered)).status_code == 401
    confirmation = await post(ses_stack, (FIXTURES / "sns_subscription_confirmation.json").read_bytes())
    assert (
        confirmation.json()["confirmed_topic"] == "arn:aws:sns:us-west-2:131990247566:dongie-standard-topic"
    )
    # The certificate fetched once, then cached; the confirmation's GET of its SubscribeURL.
    assert amazon.paths[0] == f"/{AMAZON_CERT}" and amazon.paths.count(f"/{AMAZON_CERT}") == 1
    assert amazon.paths[1].startswith("/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-west-2")


async def test_ses_events_through_sns_are_recorded_and_a_bounce_sets_consent(ses_stack: Stack) -> None:
    contact = await ses_stack.contact(email="ada@example.test")
    enrollment = await ses_stack.enroll(await ses_stack.automation([email("welcome")]), contact)
    state = await ses_stack.until(enrollment, lambda s: s["status"] == "completed")
    [message_id] = [m["message_id"] for m in state["messages"]]
    opened = signed({"Message": ses_event("open", message_id)}, version="1")
    bounced = signed({"Message": ses_event("bounce", message_id)})
    for message in (opened, bounced, opened):
        answer = await post(ses_stack, message)
        assert answer.json()["recorded"] == [message["MessageId"]]
    assert events(ses_stack.engine, contact) == [
        (opened["MessageId"], "email.opened"),
        (bounced["MessageId"], "email.bounced"),
    ]
    assert (await ses_stack.get(f"/contacts/{contact}"))["consent"] == {"email": "bounced"}
    forged = {**opened, "Message": ses_event("complaint", message_id)}
    assert (await post(ses_stack, forged)).status_code == 401


async def test_nothing_is_fetched_from_a_host_that_is_not_amazon_sns(
    time_env: WorkflowEnvironment, engine: Engine, amazon: Loopback
) -> None:
    counting = Loopback({TEST_CERT: self_signed()})
    listening = await asyncio.start_server(counting.handle, "127.0.0.1", counting.port)
    async with listening, make_stack(time_env.client, engine, time_env, webhook_keys=WebhookKeys()) as stack:
        # goalflow's own fetcher, as in production: a certificate on loopback is refused unfetched.
        for url in (
            f"https://127.0.0.1:{counting.port}/{TEST_CERT}",
            f"http://127.0.0.1:{counting.port}/{TEST_CERT}",
            f"https://sns.us-east-1.amazonaws.com.127.0.0.1.nip.io:{counting.port}/{TEST_CERT}",
        ):
            message = signed({"Message": "{}"}) | {"SigningCertURL": url}
            assert (await post(stack, message)).status_code == 401
    assert counting.connections == 0
    # A confirmation, validly signed, whose SubscribeURL is not Amazon's: refused, never visited.
    async with make_stack(
        time_env.client, engine, time_env,
        webhook_keys=WebhookKeys(sns=AmazonSns(httpx.AsyncClient(transport=ToLoopback(amazon.port)))),
    ) as stack:  # fmt: skip
        confirmation = signed({
            "Type": "SubscriptionConfirmation", "Message": "confirm", "Token": "t",
            "SubscribeURL": f"http://127.0.0.1:{counting.port}/confirm",
        })  # fmt: skip
        assert (await post(stack, confirmation)).status_code == 401
    assert counting.connections == 0 and "/confirm" not in amazon.paths
