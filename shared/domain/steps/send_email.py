"""`send_email`: an email to the contact; subject, body and html are Jinja2 templates."""

from typing import Literal

from pydantic import Field

from shared.domain.merge_fields import unguarded
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
        fields = sorted({f for t in (self.subject, self.body, self.html) if t for f in unguarded(t)})
        return [
            f"step '{self.id}': {field} is printed without a default; "
            "contacts without it are skipped (missing merge field)"
            for field in fields
        ]


MODEL = SendEmail
