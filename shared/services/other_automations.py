"""Steps that reach into another automation (SPEC §2): `start_automation` and
`enroll_in_sequence` enroll the contact through the one `start` (the other
automation's re-entry, pause and archive rules hold); `remove_from_automation`
and `unenroll_from_sequence` end its enrollment there through the one `remove`.

Each is done once per step run, whatever retries: the step run is claimed in
`step_runs` before anything happens, and a retry finds the enrollment its
earlier attempt started by what started it (this enrollment, past the contact's
last enrollment there when the step run was claimed), or the one it ends by the
claim. Entries by automations are bounded per contact: past LOOP_BUDGET within
LOOP_WINDOW (`shared.domain.steps.other_automations`) the step is skipped, which
ends loops across automations (A starts B, B starts A)."""

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from shared.contracts import ByAutomation
from shared.domain.errors import Conflict, NotFound
from shared.domain.steps.other_automations import LOOP_BUDGET, LOOP_REASON, LOOP_WINDOW
from shared.services import enrollments
from shared.services.context import Services
from shared.services.triggers import skip_reason
from shared.store import other_automations as store
from shared.store.db import utcnow
from shared.store.enrollments import Archived

NOT_ENROLLED = "not enrolled"
SEQUENCE_DELETED = "sequence deleted"
NOT_A_SEQUENCE = "not a sequence"
DAILY_LIMIT = "daily send limit reached"


class Outcome(BaseModel):
    """The enrollment the step started or ended, or why it did neither."""

    enrollment_id: str | None = None
    skipped: str | None = None


@dataclass(frozen=True)
class FromStep:
    """Which step run asks: its key, this enrollment, and the other automation."""

    key: str
    automation_id: str
    enrollment_id: str
    step_id: str
    contact_id: str
    target: str
    # Whether the step names a sequence (`enroll_in_sequence`, `unenroll_from_sequence`).
    sequence: bool = False


async def enter(services: Services, run: FromStep, sender: str | None = None) -> Outcome:
    """Enroll the contact in `run.target` once for this step run; a sequence's
    enrollment from `sender` when given, else from the sequence's own."""
    target, contact = run.target, run.contact_id
    claimed = await services.db(
        lambda s: (
            store.recorded(s, run.key)
            or store.record_once(
                s, run.key, {"pending": True, "before_seq": store.last_seq(s, target, contact)}
            )
        )
    )
    if not claimed.get("pending"):
        return Outcome.model_validate(claimed)
    by = ByAutomation(automation=run.automation_id, enrollment_id=run.enrollment_id)
    entered_by = by.model_dump()
    earlier = await services.db(
        lambda s: store.started_after(s, target, contact, entered_by, claimed["before_seq"])
    )
    if earlier is not None:  # A crash came between starting it and recording so.
        return await _settle(services, run, Outcome(enrollment_id=earlier))
    refused = await services.db(lambda s: _refusal(s, run, sender))
    if refused is not None:
        return await _settle(services, run, Outcome(skipped=refused))
    try:
        enrolled = await enrollments.start(
            services, target, contact, entered_by=by, sender=sender if run.sequence else None
        )
    except enrollments.Starting:
        raise  # Being started, perhaps by this step run's earlier attempt: asked again after a pause.
    except (Conflict, NotFound) as refusal:
        # The enrollment in the way may be this step run's own, from an attempt in parallel.
        earlier = await services.db(
            lambda s: store.started_after(s, target, contact, entered_by, claimed["before_seq"])
        )
        if earlier is not None:
            return await _settle(services, run, Outcome(enrollment_id=earlier))
        if run.sequence and isinstance(refusal, Archived):
            reason = SEQUENCE_DELETED  # Archived between the check and the start.
        else:
            reason = skip_reason(refusal)
        return await _settle(services, run, Outcome(skipped=reason))
    return await _settle(services, run, Outcome(enrollment_id=enrolled.enrollment_id))


def _refusal(session: Any, run: FromStep, sender: str | None) -> str | None:
    """What skips the entry before `start` is asked: the contact's loop budget
    across automations; for a sequence, that it is one, not archived, and that
    its sender has not sent its daily limit today."""
    since = utcnow() - LOOP_WINDOW
    if store.entered_by_automations(session, run.contact_id, since) >= LOOP_BUDGET:
        return LOOP_REASON
    if not run.sequence:
        return None
    try:
        row, version = store.latest(session, run.target, "sequence")
    except NotFound as missing:
        return skip_reason(missing)
    if row.archived:
        return SEQUENCE_DELETED
    plan = version.plan
    if plan.kind != "sequence":
        return NOT_A_SEQUENCE
    from_ = sender or plan.sender
    if from_ is not None and store.limit_reached(session, from_):
        return DAILY_LIMIT
    return None


async def leave(services: Services, run: FromStep) -> Outcome:
    """End the contact's running enrollment in `run.target` once for this step
    run, as `removed` with an end reason naming this automation and step."""

    def claim(session: Any) -> dict[str, Any]:
        known = store.recorded(session, run.key)
        return known or store.record_once(session, run.key, _running(session, run))

    claimed = await services.db(claim)
    if not claimed.get("pending"):
        return Outcome.model_validate(claimed)
    reason = end_reason(run)
    ended = await enrollments.remove(services, claimed["enrollment_id"], reason)
    if ended.end_reason != reason:  # It ended by itself first.
        return await _settle(services, run, Outcome(skipped=NOT_ENROLLED))
    return await _settle(services, run, Outcome(enrollment_id=ended.enrollment_id))


def _running(session: Any, run: FromStep) -> dict[str, Any]:
    """The claim of an exit: the enrollment it ends, or why there is none."""
    try:
        _, version = store.latest(session, run.target, "sequence" if run.sequence else "automation")
    except NotFound as missing:
        return {"skipped": skip_reason(missing)}
    if run.sequence and version.plan.kind != "sequence":
        return {"skipped": NOT_A_SEQUENCE}
    running = store.running_in(session, run.target, run.contact_id)
    if running is None:
        return {"skipped": NOT_ENROLLED}
    return {"pending": True, "enrollment_id": running}


def end_reason(run: FromStep) -> str:
    verb = "unenrolled" if run.sequence else "removed"
    return f"{verb} by automation '{run.automation_id}', step '{run.step_id}'"


async def _settle(services: Services, run: FromStep, outcome: Outcome) -> Outcome:
    """Record the outcome; one an attempt in parallel recorded first is the answer."""
    result = outcome.model_dump(exclude_none=True)
    return Outcome.model_validate(await services.db(lambda s: store.settle(s, run.key, result)))
