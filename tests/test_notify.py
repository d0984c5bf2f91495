"""`notify`: an internal email about the contact, to the team's addresses, over
SMTP to a real server on loopback (aiosmtpd). The contact's consent does not
apply, and nothing in it is tracked."""

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from sqlalchemy.engine import Engine
from temporalio.testing import WorkflowEnvironment

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
    # A provider whose correlation header every message to a contact carries.
    sending = Sending(
        smtp=SmtpServer("127.0.0.1", mailbox[1], tls="none"),
        default_sender="Acme <news@acme.test>",
        provider="mailgun",
    )
    async with make_stack(time_env.client, engine, time_env, sending=sending) as stack:
        yield stack


async def test_notify_emails_the_team_untracked_whatever_the_contacts_consent(
    mail_stack: Stack,
    mailbox: tuple[Mailbox, int],  # noqa: F811
) -> None:
    box, _ = mailbox
    stack = mail_stack
    contact = await stack.contact(
        email="ada@example.test", first_name="Ada", consent={"email": "unsubscribed"}
    )
    steps = [
        {
            "id": "tell",
            "type": "notify",
            "to": ["sales@acme.test", "ops@acme.test"],
            "subject": "{{ contact.first_name }} booked a demo",
            "body": "See https://crm.acme.test/contacts/{{ contact.id }}",
        },
        {"id": "welcome", "type": "send_email", "subject": "Hi", "body": "Hello"},
    ]
    state = await stack.until(
        await stack.enroll(await stack.automation(steps), contact), lambda s: s["status"] == "completed"
    )
    [tell, welcome] = state["history"][:2]
    # The contact unsubscribed: her own email is skipped, the team is told all the same.
    assert (welcome["step_id"], welcome["outcome"], welcome["detail"]) == (
        "welcome",
        "skipped",
        {"reason": "contact is unsubscribed"},
    )
    assert (tell["step_id"], tell["outcome"]) == ("tell", "done")
    [sent] = box.received
    assert box.envelopes == [("news@acme.test", ["sales@acme.test", "ops@acme.test"])]
    assert (sent["To"], sent["Subject"]) == ("sales@acme.test, ops@acme.test", "Ada booked a demo")
    # Not tracked: its link as written, no open image, no unsubscribe, no provider correlation.
    assert sent.get_content_type() == "text/plain"
    assert sent.get_content().strip() == f"See https://crm.acme.test/contacts/{contact}"
    assert sent["List-Unsubscribe"] is None and sent["X-Mailgun-Variables"] is None
    # Not the contact's message: no email goal counts it, but the outbox lists it as internal.
    assert state["messages"] == []
    [listed] = await stack.get(f"/contacts/{contact}/messages")
    assert (listed["message_id"], listed["channel"], listed["to"]) == (
        tell["detail"]["message_id"],
        "internal",
        "sales@acme.test, ops@acme.test",
    )


async def test_a_notify_without_what_its_template_prints_is_skipped(
    mail_stack: Stack,
    mailbox: tuple[Mailbox, int],  # noqa: F811
) -> None:
    box, _ = mailbox
    contact = await mail_stack.contact(email="ada@example.test")
    steps = [
        {
            "id": "tell",
            "type": "notify",
            "to": ["sales@acme.test"],
            "subject": "New",
            "body": "{{ contact.company }}",
        }
    ]
    created = await mail_stack.post("/automations", {"name": "n", "steps": steps}, expect=201)
    assert created["warnings"] == [
        "step 'tell': contact.company is printed without a default; "
        "contacts without it are skipped (missing merge field)"
    ]
    state = await mail_stack.until(
        await mail_stack.enroll(created["id"], contact), lambda s: s["status"] == "completed"
    )
    assert state["history"][0]["detail"] == {"reason": "missing merge field contact.company"}
    assert box.received == []
