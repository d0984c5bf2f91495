"""What the send steps share in the workflow: the activity's input and answer,
the holds (the send window's, the automation's pause), and how the outcome is
recorded. A send is a regular activity, retried with backoff within the send's bound.

The pause's hold adds commands only where a send activity answers `paused`,
which no run recorded before could have had: no `workflow.patched`."""

from datetime import datetime

from pydantic import BaseModel
from temporalio import workflow

from shared.contracts import EnrollmentState, MessageRef, PauseHold
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
    # A sequence's email: the sender it goes out from, in place of the step's.
    sender: str | None = None


class SendResult(BaseModel):
    message_id: str | None = None
    skipped: str | None = None
    # The send window is closed until then: nothing was sent, try again then.
    held_until: datetime | None = None
    # The automation is paused (its pause number): nothing was sent, try again once it resumes.
    paused: int | None = None


PAUSED = "automation paused"
STALE = "stale"


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
    """Run the send, held while the send window is closed or the automation is
    paused; None when a goal or a removal pulled the contact away (recorded
    `cancelled` when that cut the send itself short)."""
    state = enrollment.state
    while True:
        # A pause's hold carried over by continue-as-new goes on without asking again.
        if state.paused_hold is None:
            sent = await enrollment.remote(activity, send, SendResult, step, enrollment.input.send_timeout)
            if sent is None:
                pulled = {"goal": state.move_to} if state.move_to else {"reason": "removed"}
                enrollment.record(step.id, "cancelled", **pulled)
                return None
            if sent.held_until is None and sent.paused is None:
                return sent
            if sent.paused is not None:
                state.paused_hold = PauseHold(pause=sent.paused, since=workflow.now())
                state.deadline = None
                enrollment.start_holding(step, until=None, held_for=PAUSED)
            else:
                # Held, not skipped: goals still pull the contact meanwhile.
                state.deadline = sent.held_until
                enrollment.start_holding(step, until=sent.held_until.isoformat(), held_for="the send window")
        hold = state.paused_hold
        await enrollment.hold(step, lambda: released(state))
        if enrollment.interrupted():
            return None
        state.waiting, state.held_for, state.paused_hold = False, None, None
        if hold is not None and stale(state, hold):
            return SendResult(skipped=STALE)
        # Asked again as of now, when the hold ended: as of the first ask, a
        # worker whose clock is behind the server's would find the window
        # still closed, and be asked again at once, over and over.
        send.asked_at = workflow.now() if send.window else None


def released(state: EnrollmentState) -> bool:
    """Whether a resume of the pause that holds the send, or of a later one,
    has come: before the hold began, too (the activity saw the pause, then the
    resume signal overtook its answer)."""
    hold, resumed = state.paused_hold, state.resumed
    return hold is not None and resumed is not None and resumed.pause >= hold.pause


def stale(state: EnrollmentState, hold: PauseHold) -> bool:
    """Held longer than the resume's `stale_after`, on the workflow's clock:
    from the hold to the moment the resume reached the enrollment."""
    stale_after = state.resumed.stale_after if state.resumed else None
    return stale_after is not None and workflow.now() - hold.since > stale_after


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
