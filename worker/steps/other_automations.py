"""`start_automation`, `remove_from_automation`, `enroll_in_sequence` and
`unenroll_from_sequence` in the workflow: one activity each, which does the
entry or the exit once per step run (`shared.services.other_automations`)."""

from pydantic import BaseModel

from shared.domain.steps.enroll_in_sequence import EnrollInSequence
from shared.domain.steps.other_automations import OtherAutomationStep
from shared.domain.steps.remove_from_automation import RemoveFromAutomation
from shared.domain.steps.start_automation import StartAutomation
from shared.domain.steps.unenroll_from_sequence import UnenrollFromSequence
from worker.steps.base import Enrollment


class OtherAutomationInput(BaseModel):
    key: str
    # This enrollment and where it stands: what the other enrollment's `entered_by` names.
    automation_id: str
    enrollment_id: str
    step_id: str
    contact_id: str
    # The other automation (or sequence).
    target: str
    sequence: bool = False
    # `enroll_in_sequence`'s sender, in place of the sequence's own.
    sender: str | None = None


class OtherAutomationResult(BaseModel):
    """The enrollment started or ended, or why neither."""

    enrollment_id: str | None = None
    skipped: str | None = None


async def enter(enrollment: Enrollment, step: StartAutomation | EnrollInSequence) -> int | None:
    if isinstance(step, EnrollInSequence):
        asked = _input(enrollment, step, step.sender)
        result = await enrollment.local("enroll_in_sequence", asked, OtherAutomationResult, step)
    else:
        asked = _input(enrollment, step)
        result = await enrollment.local("start_automation", asked, OtherAutomationResult, step)
    return _recorded(enrollment, step, result)


async def leave(enrollment: Enrollment, step: RemoveFromAutomation | UnenrollFromSequence) -> int | None:
    asked = _input(enrollment, step)
    if isinstance(step, UnenrollFromSequence):
        result = await enrollment.local("unenroll_from_sequence", asked, OtherAutomationResult, step)
    else:
        result = await enrollment.local("remove_from_automation", asked, OtherAutomationResult, step)
    return _recorded(enrollment, step, result)


def _input(
    enrollment: Enrollment, step: OtherAutomationStep, sender: str | None = None
) -> OtherAutomationInput:
    entry = enrollment.input
    return OtherAutomationInput(
        key=enrollment.key(step),
        automation_id=entry.automation_id,
        enrollment_id=entry.enrollment_id,
        step_id=step.id,
        contact_id=entry.contact_id,
        target=step.target(),
        sequence=step.TARGET == "sequence",
        sender=sender,
    )


def _recorded(enrollment: Enrollment, step: OtherAutomationStep, result: OtherAutomationResult) -> int | None:
    """`done` with the enrollment started or ended, or `skipped` with the reason."""
    if result.enrollment_id is not None:
        enrollment.record(step.id, "done", enrollment_id=result.enrollment_id)
    else:
        enrollment.record(step.id, "skipped", reason=result.skipped)
    return enrollment.after(step)
