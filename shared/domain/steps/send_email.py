"""`send_email`: an email to the contact; subject, body and html are Jinja2 templates."""

from typing import Literal

from pydantic import Field

from shared.domain.merge_fields import ALWAYS_THERE, skip_warnings
from shared.domain.steps.base import StepBase


class SendEmail(StepBase):
    CONTENT = ("subject", "body", "html", "sender")
    TEMPLATES = ("subject", "body", "html")
    ADDED_CONTENT = ("html",)
    SENDS_EMAIL = True

    type: Literal["send_email"]
    subject: str = Field(min_length=1)
    # The text part; `html`, when given, goes with it as multipart/alternative.
    body: str = Field(min_length=1)
    html: str | None = Field(default=None, min_length=1)
    sender: str | None = None

    def warnings(self) -> list[str]:
        return skip_warnings(self.id, (self.subject, self.body, self.html), ALWAYS_THERE)


MODEL = SendEmail
