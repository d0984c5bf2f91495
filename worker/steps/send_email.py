"""`send_email` in the workflow: one activity fetches the content by reference,
renders it and sends it over SMTP; the message is remembered for email goals (G8)."""

from shared.domain.steps.base import Planned
from worker.steps.base import Enrollment
from worker.steps.sending import SendResult, deliver, recorded, send_input

# Sends are regular activities, retried with backoff within the send's bound.
SENDS_OVER_THE_NETWORK = "sends-over-the-network"


async def run(enrollment: Enrollment, step: Planned) -> int | None:
    send = send_input(enrollment, step)
    plan = enrollment.automation
    if plan.kind == "sequence":
        # One to one: from the sender the enrolling step named, else the sequence's.
        send.sender = enrollment.input.sender or plan.sender
    if enrollment.patched(SENDS_OVER_THE_NETWORK):
        result = await deliver(enrollment, step, "send_email", send)
        if result is None:
            return None
    else:  # Runs recorded before: a local activity, as when sends only wrote the outbox.
        result = await enrollment.local("send_email", send, SendResult, step)
    return recorded(enrollment, step, result, "email")
