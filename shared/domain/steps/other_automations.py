"""What the steps that reach into another automation share: the one they name
(`start_automation`, `remove_from_automation`, `enroll_in_sequence`,
`unenroll_from_sequence`), the check that a definition names itself in none of
them, and the bound on loops across automations.

A loop inside one automation is bounded per step (`worker/enrollment.py`:
LOOP_BUDGET runs of a step within LOOP_WINDOW). Automations that start each
other (A starts B, B starts A) make a loop no single enrollment sees: each
turn is a new enrollment. So the bound is the contact's: a step that would
start an enrollment is skipped once the contact entered LOOP_BUDGET
enrollments started by automations within LOOP_WINDOW."""

from datetime import timedelta
from email.utils import parseaddr
from typing import Any, ClassVar

from shared.domain.steps.base import Problem, StepBase

# The same budget and window as a step's own loop (worker/enrollment.py), counted per contact.
LOOP_BUDGET = 50
LOOP_WINDOW = timedelta(minutes=30)
LOOP_REASON = (
    f"loop budget exceeded: the contact entered {LOOP_BUDGET} automations started by "
    f"automations within {int(LOOP_WINDOW.total_seconds() // 60)} minutes"
)


class OtherAutomationStep(StepBase):
    # The field that names the other automation.
    TARGET: ClassVar[str] = "automation"

    def target(self) -> str:
        return str(getattr(self, self.TARGET))


def self_references(automation_id: str, steps: list[Any]) -> list[Problem]:
    """An automation that starts, or removes the contact from, itself: refused.
    Starting itself is a loop the definition says outright; removing from itself
    would wait on its own step (use `end`)."""
    return [
        step.problem(i, step.TARGET, f"names this automation, '{automation_id}', itself")
        for i, step in enumerate(steps)
        if isinstance(step, OtherAutomationStep) and step.target() == automation_id
    ]


def email_address(value: str) -> str:
    """A sender: `ada@example.com` or `Ada <ada@example.com>`."""
    address = parseaddr(value)[1]
    if "@" not in address or address.startswith("@") or address.endswith("@"):
        raise ValueError(f"'{value}' is not an email address")
    return value
