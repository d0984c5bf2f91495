"""`blocklist`: put the contact on the blocklist. No automation sends it
anything from then on (each send skips: `contact is blocklisted`); internal
`notify` messages about it still go to the team."""

from typing import Literal

from shared.domain.steps.base import StepBase


class Blocklist(StepBase):
    type: Literal["blocklist"]


MODEL = Blocklist
