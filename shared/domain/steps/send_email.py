"""`send_email`: an email to the contact, its subject and body Jinja2 templates."""

from typing import Literal

from pydantic import Field

from shared.domain.steps.base import StepBase


class SendEmail(StepBase):
    CONTENT = ("subject", "body", "sender")
    TEMPLATES = ("subject", "body")
    SENDS_EMAIL = True

    type: Literal["send_email"]
    subject: str = Field(min_length=1)
    body: str = Field(min_length=1)
    sender: str | None = None


MODEL = SendEmail
