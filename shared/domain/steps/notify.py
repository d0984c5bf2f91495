"""`notify`: an internal email about the contact, to fixed addresses and to
users (their emails, read when the step runs): the team, not the contact. The
contact's consent does not apply, and the message is not tracked: no open
image, no rewritten links, no unsubscribe."""

from typing import Annotated, Literal

from pydantic import Field

from shared.domain.ids import Id
from shared.domain.merge_fields import EVERY_CONTACT_HAS, skip_warnings
from shared.domain.steps.base import Flow, Problem, StepBase

# One address, as a To header lists them: no commas or semicolons. A user's email too.
Address = Annotated[str, Field(pattern=r"^[^@\s<>,;]+@[^@\s<>,;]+$", max_length=254)]


class Notify(StepBase):
    CONTENT = ("to", "subject", "body", "sender", "users")
    TEMPLATES = ("subject", "body")
    # Added later: a step without users keeps the digest it had.
    ADDED_CONTENT = ("users",)

    type: Literal["notify"]
    to: list[Address] = Field(default=[], max_length=50)
    # User ids: the message goes to their emails too.
    users: list[Id] | None = Field(default=None, min_length=1, max_length=50)
    subject: str = Field(min_length=1)
    body: str = Field(min_length=1)
    # By default GOALFLOW_DEFAULT_SENDER.
    sender: str | None = None

    def warnings(self) -> list[str]:
        return skip_warnings(self.id, (self.subject, self.body), EVERY_CONTACT_HAS)

    def problems(self, position: int, flow: Flow) -> list[Problem]:
        if not self.to and not self.users:
            return [self.problem(position, "to", "give to, users, or both: the message goes to someone")]
        return []


MODEL = Notify
