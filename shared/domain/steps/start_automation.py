"""`start_automation`: enroll the contact in another automation, through the
same entry as the API (its re-entry, pause and archive rules hold)."""

from typing import Literal

from shared.domain.ids import Id
from shared.domain.steps.other_automations import OtherAutomationStep


class StartAutomation(OtherAutomationStep):
    type: Literal["start_automation"]
    automation: Id


MODEL = StartAutomation
