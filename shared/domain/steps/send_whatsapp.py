"""`send_whatsapp`: a WhatsApp message to the contact's phone, through Twilio.
WhatsApp takes free text (`body`) only within 24 hours of the contact's last
message to us; outside that window only an approved template (`template`, its
content SID, filled with `variables`). Bodies and variables are Jinja2 templates."""

from typing import Annotated, Literal

from pydantic import Field

from shared.domain.merge_fields import TEXTED_HAS, skip_warnings, syntax_error
from shared.domain.phones import E164
from shared.domain.steps.base import Flow, Problem, StepBase

VariableName = Annotated[str, Field(min_length=1, max_length=64)]
# What WhatsApp takes in one message body.
Variable = Annotated[str, Field(max_length=1600)]


class SendWhatsapp(StepBase):
    CONTENT = ("body", "template", "variables", "sender")
    TEMPLATES = ("body",)
    SENDS_TEXT = True

    type: Literal["send_whatsapp"]
    # Sent when the contact wrote within 24 hours (then preferred to the template).
    body: str | None = Field(default=None, min_length=1)
    # An approved template's content SID, sent outside that window.
    template: str | None = Field(default=None, pattern=r"^HX[0-9a-fA-F]{32}$")
    variables: dict[VariableName, Variable] = {}
    # The number it comes from; by default GOALFLOW_TWILIO_WHATSAPP_FROM.
    sender: str | None = Field(default=None, pattern=E164)

    def problems(self, position: int, flow: Flow) -> list[Problem]:
        problems = []
        if self.body is None and self.template is None:
            problems.append(self.problem(position, "body", "a body, a template, or both are needed"))
        if self.variables and self.template is None:
            problems.append(
                self.problem(position, "variables", "variables fill a template, and there is none")
            )
        for name, value in self.variables.items():
            error = syntax_error(value)
            if error:
                problems.append(self.problem(position, "variables", error, name))
        return problems

    def warnings(self) -> list[str]:
        return skip_warnings(self.id, (self.body, *self.variables.values()), TEXTED_HAS)


MODEL = SendWhatsapp
