"""`unenroll_from_sequence`: end the contact's enrollment in a sales sequence."""

from typing import ClassVar, Literal

from shared.domain.ids import Id
from shared.domain.steps.other_automations import OtherAutomationStep


class UnenrollFromSequence(OtherAutomationStep):
    TARGET: ClassVar[str] = "sequence"

    type: Literal["unenroll_from_sequence"]
    sequence: Id


MODEL = UnenrollFromSequence
