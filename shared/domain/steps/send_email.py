"""`send_email`: an email to the contact, its subject and body Jinja2 templates."""

from typing import Literal

from pydantic import ConfigDict, Field

from shared.domain.steps.base import StepBase


class SendEmail(StepBase):
    CONTENT = ("subject", "body", "sender")
    TEMPLATES = ("subject", "body")
    SENDS_EMAIL = True

    type: Literal["send_email"]
    subject: str = Field(min_length=1)
    body: str = Field(min_length=1)
    sender: str | None = None


class PlannedSendEmail(StepBase):
    """A send step as its enrollment sees it: the digest of its content."""

    # Enrollments started before content by reference carry the content itself: accepted, unused.
    model_config = ConfigDict(extra="ignore", frozen=True)
    SENDS_EMAIL = True

    type: Literal["send_email"]
    # None in those older inputs: their send fetches the content unchecked.
    digest: str | None = None


MODEL, PLANNED = SendEmail, PlannedSendEmail
