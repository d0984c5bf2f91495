"""`send_email` in the workflow: one activity fetches the content by reference,
renders it and sends it over SMTP; the message is remembered for email goals (G8)."""

from datetime import datetime

from pydantic import BaseModel
from temporalio import workflow

from shared.contracts import MessageRef
from shared.domain.steps.base import Planned
from shared.domain.windows import SendWindow
from worker.steps.base import Enrollment

# Sends are regular activities, retried with backoff within the send's bound.
SENDS_OVER_THE_NETWORK = "sends-over-the-network"


class SendEmailInput(BaseModel):
    key: str
    enrollment_id: str
    contact_id: str
    # The content is fetched from here, and checked against the plan's digest.
    automation_id: str
    version: int
    step_id: str
    digest: str | None
    window: SendWindow | None = None
    # The workflow's time when it asked: the window is judged at this or later.
    asked_at: datetime | None = None


class SendResult(BaseModel):
    message_id: str | None = None
    skipped: str | None = None
    # The send window is closed until then: nothing was sent, try again then.
    held_until: datetime | None = None


async def run(enrollment: Enrollment, step: Planned) -> int | None:
    entry = enrollment.input
    send = SendEmailInput(
        key=enrollment.key(step),
        enrollment_id=entry.enrollment_id,
        contact_id=entry.contact_id,
        automation_id=entry.automation_id,
        version=entry.version,
        step_id=step.id,
        digest=step.digest,
        window=enrollment.automation.send_window,
        asked_at=workflow.now() if enrollment.automation.send_window else None,
    )
    if enrollment.patched(SENDS_OVER_THE_NETWORK):
        while True:
            sent = await enrollment.remote("send_email", send, SendResult, step, entry.send_timeout)
            if sent is None:
                state = enrollment.state
                pulled = {"goal": state.move_to} if state.move_to else {"reason": "removed"}
                enrollment.record(step.id, "cancelled", **pulled)
                return None
            if sent.held_until is None:
                break
            # Held, not skipped: goals still pull the contact meanwhile.
            enrollment.state.deadline = sent.held_until
            enrollment.start_holding(step, until=sent.held_until.isoformat(), held_for="the send window")
            if not await enrollment.hold(step):
                return None
            enrollment.state.waiting, enrollment.state.held_for = False, None
            # Asked again as of now, when the hold ended: as of the first ask, a
            # worker whose clock is behind the server's would find the window
            # still closed, and be asked again at once, over and over.
            send.asked_at = workflow.now()
        result = sent
    else:  # Runs recorded before: a local activity, as when sends only wrote the outbox.
        result = await enrollment.local("send_email", send, SendResult, step)
    if result.message_id:
        enrollment.state.messages.append(MessageRef(message_id=result.message_id, step_id=step.id))
        enrollment.record(step.id, "done", message_id=result.message_id)
    else:
        enrollment.record(step.id, "skipped", reason=result.skipped)
    return enrollment.after(step)
