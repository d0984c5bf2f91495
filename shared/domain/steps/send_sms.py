"""`send_sms`: a text message to the contact's phone, through Twilio; the body
is a Jinja2 template (merge fields, `trigger_link`)."""

from typing import Literal

from pydantic import Field

from shared.domain.merge_fields import TEXTED_HAS, skip_warnings
from shared.domain.phones import E164
from shared.domain.steps.base import StepBase


class SendSms(StepBase):
    CONTENT = ("body", "sender")
    TEMPLATES = ("body",)
    SENDS_TEXT = True

    type: Literal["send_sms"]
    body: str = Field(min_length=1)
    # The number it comes from; by default GOALFLOW_TWILIO_FROM.
    sender: str | None = Field(default=None, pattern=E164)

    def warnings(self) -> list[str]:
        return skip_warnings(self.id, (self.body,), TEXTED_HAS)


MODEL = SendSms
