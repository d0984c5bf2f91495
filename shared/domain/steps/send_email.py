"""`send_email`: an email to the contact; subject, body and html are Jinja2 templates."""

from typing import Literal

from pydantic import Field

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


MODEL = SendEmail
