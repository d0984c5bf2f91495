"""`webhook` in the workflow: one regular activity makes the call, retried
with backoff up to the step's `max_attempts` on a timeout, a lost connection
or a 5xx; a 4xx, a refused target or a template that fails is not retried.
The outcome is recorded `done` (the status, what was saved), `skipped` (a
merge field the contact lacks) or `failed` with the reason, and for an
answer, its status and the start of its body. A new step type, with no run
recorded before it: no `workflow.patched`."""

from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, RetryState

from shared.domain.steps.base import Planned
from worker.steps.base import Enrollment
from worker.steps.sending import SendInput, send_input

# The errors the activity raises on purpose; anything else is the interpreter's to record.
# Not made: no secret to sign with, or a template that fails.
CANNOT = "WebhookCannotCall"
REFUSED = "WebhookRefused"
REJECTED = "WebhookRejected"
SERVER_ERROR = "WebhookServerError"
UNREACHABLE = "WebhookUnreachable"
ERRORS = (CANNOT, REFUSED, REJECTED, SERVER_ERROR, UNREACHABLE)
# Error text kept in the history, as for any failed step.
ERROR_CHARS = 1000
# Past the call's own timeout: reading the step and saving what it answered.
ATTEMPT_MARGIN = timedelta(seconds=30)
FIRST_BACKOFF = timedelta(seconds=1)
MAX_BACKOFF = timedelta(minutes=1)


class WebhookInput(SendInput):
    # The step's structure, from the plan; its URL, headers and body are read by reference.
    method: str
    timeout_seconds: float
    save: dict[str, str] = {}


class WebhookResult(BaseModel):
    status: int | None = None
    webhook_id: str | None = None
    # Attribute -> the value saved (a long one by its size: the history stays small);
    # `missing`: the attributes whose path the answer lacked.
    saved: dict[str, Any] = {}
    missing: list[str] = []
    skipped: str | None = None


async def run(enrollment: Enrollment, step: Planned) -> int | None:
    call = WebhookInput(
        **send_input(enrollment, step, window=False).model_dump(),
        method=step.method,  # type: ignore[attr-defined]
        timeout_seconds=step.timeout.total_seconds(),  # type: ignore[attr-defined]
        save=step.save,  # type: ignore[attr-defined]
    )
    attempts: int = step.max_attempts  # type: ignore[attr-defined]
    attempt: timedelta = step.timeout + ATTEMPT_MARGIN  # type: ignore[attr-defined]
    retry = RetryPolicy(
        initial_interval=FIRST_BACKOFF, maximum_interval=MAX_BACKOFF, maximum_attempts=attempts
    )
    # The attempts bound the call; this bound only keeps a lost activity from waiting forever.
    within = attempts * (attempt + MAX_BACKOFF)
    try:
        result = await enrollment.remote(
            "call_webhook", call, WebhookResult, step, within, retry_policy=retry, attempt=attempt
        )
    except ActivityError as error:
        cause = error.cause
        if not isinstance(cause, ApplicationError) or cause.type not in ERRORS:
            raise  # The interpreter records it (or a cancellation ends the run).
        detail: dict[str, Any] = dict(cause.details[0]) if cause.details else {}
        if error.retry_state == RetryState.MAXIMUM_ATTEMPTS_REACHED and attempts > 1:
            detail["attempts"] = attempts
        enrollment.record(step.id, "failed", error=cause.message[:ERROR_CHARS], **detail)
        return enrollment.after(step)
    if result is None:
        pulled = {"goal": enrollment.state.move_to} if enrollment.state.move_to else {"reason": "removed"}
        enrollment.record(step.id, "cancelled", **pulled)
        return None
    if result.skipped:
        enrollment.record(step.id, "skipped", reason=result.skipped)
    else:
        done: dict[str, Any] = {"status": result.status, "webhook_id": result.webhook_id}
        if result.saved:
            done["saved"] = result.saved
        if result.missing:
            done["missing"] = result.missing
        enrollment.record(step.id, "done", **done)
    return enrollment.after(step)
