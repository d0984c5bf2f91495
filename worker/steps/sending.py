"""What the send steps share in the workflow: the activity's input and answer,
the send window's hold, and how the outcome is recorded. A send is a regular
activity, retried with backoff within the send's bound."""

from datetime import datetime

from pydantic import BaseModel
from temporalio import workflow

from shared.contracts import MessageRef
from shared.domain.steps.base import Planned
from shared.domain.windows import SendWindow
from worker.steps.base import Enrollment


class SendInput(BaseModel):
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


def send_input(enrollment: Enrollment, step: Planned, window: bool = True) -> SendInput:
    """The activity's input for `step`: held for the automation's send window
    when `window`, and then with the workflow's time."""
    entry = enrollment.input
    held_for = enrollment.automation.send_window if window else None
    return SendInput(
        key=enrollment.key(step),
        enrollment_id=entry.enrollment_id,
        contact_id=entry.contact_id,
        automation_id=entry.automation_id,
        version=entry.version,
        step_id=step.id,
        digest=step.digest,
        window=held_for,
        asked_at=workflow.now() if held_for else None,
    )


async def deliver(enrollment: Enrollment, step: Planned, activity: str, send: SendInput) -> SendResult | None:
    """Run the send, held while the send window is closed; None (recorded
    `cancelled`) when a goal or a removal pulled the contact away."""
    while True:
        sent = await enrollment.remote(activity, send, SendResult, step, enrollment.input.send_timeout)
        if sent is None:
            state = enrollment.state
            pulled = {"goal": state.move_to} if state.move_to else {"reason": "removed"}
            enrollment.record(step.id, "cancelled", **pulled)
            return None
        if sent.held_until is None:
            return sent
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


def recorded(enrollment: Enrollment, step: Planned, result: SendResult, channel: str | None) -> int | None:
    """Record the send's outcome; a message to the contact is remembered on its
    `channel` for the goals about it (G8). None: the message is not the contact's."""
    if result.message_id:
        if channel is not None:
            enrollment.state.messages.append(
                MessageRef(message_id=result.message_id, step_id=step.id, channel=channel)
            )
        enrollment.record(step.id, "done", message_id=result.message_id)
    else:
        enrollment.record(step.id, "skipped", reason=result.skipped)
    return enrollment.after(step)
