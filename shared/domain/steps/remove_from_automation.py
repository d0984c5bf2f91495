"""`remove_from_automation`: end the contact's running enrollment in another automation."""

from typing import Literal

from shared.domain.ids import Id
from shared.domain.steps.other_automations import OtherAutomationStep


class RemoveFromAutomation(OtherAutomationStep):
    type: Literal["remove_from_automation"]
    automation: Id


MODEL = RemoveFromAutomation
