"""`enroll_in_sequence`: enroll the contact in a sales sequence (an automation
of kind `sequence`), from the sequence's sender or from this step's."""

from typing import Annotated, ClassVar, Literal

from pydantic import AfterValidator, Field

from shared.domain.ids import Id
from shared.domain.steps.other_automations import OtherAutomationStep, email_address


class EnrollInSequence(OtherAutomationStep):
    TARGET: ClassVar[str] = "sequence"

    type: Literal["enroll_in_sequence"]
    sequence: Id
    # Overrides the sequence's own sender for this enrollment.
    sender: Annotated[str, Field(max_length=320), AfterValidator(email_address)] | None = None


MODEL = EnrollInSequence
