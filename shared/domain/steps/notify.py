"""`notify`: an internal email about the contact, to fixed addresses (the
team, not the contact). The contact's consent does not apply, and the message
is not tracked: no open image, no rewritten links, no unsubscribe."""

from typing import Annotated, Literal

from pydantic import Field

from shared.domain.merge_fields import EVERY_CONTACT_HAS, skip_warnings
from shared.domain.steps.base import StepBase

# One address, as a To header lists them: no commas or semicolons.
Address = Annotated[str, Field(pattern=r"^[^@\s<>,;]+@[^@\s<>,;]+$", max_length=254)]


class Notify(StepBase):
    CONTENT = ("to", "subject", "body", "sender")
    TEMPLATES = ("subject", "body")

    type: Literal["notify"]
    to: list[Address] = Field(min_length=1, max_length=50)
    subject: str = Field(min_length=1)
    body: str = Field(min_length=1)
    # By default GOALFLOW_DEFAULT_SENDER.
    sender: str | None = None

    def warnings(self) -> list[str]:
        return skip_warnings(self.id, (self.subject, self.body), EVERY_CONTACT_HAS)


MODEL = Notify
