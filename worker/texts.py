"""SMS and WhatsApp: the message a send hands to the outbox (`Outbox.text`)."""

from dataclasses import dataclass

# What one message may hold: Twilio refuses a longer body (error 21617).
BODY_CHARS = 1600


@dataclass(frozen=True)
class OutgoingText:
    idempotency_key: str
    enrollment_id: str
    step_id: str
    contact_id: str
    # sms | whatsapp
    channel: str
    # Phone numbers (E.164); the channel says how Twilio writes them.
    to: str
    sender: str | None
    # The text; for a WhatsApp template, its variables as JSON.
    body: str
    # A WhatsApp template's content SID.
    template: str | None = None
