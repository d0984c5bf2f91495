"""Conversions that `record_conversion` steps recorded, totalled per name for an automation."""

from pydantic import BaseModel
from sqlmodel import Session

from shared.domain.errors import NotFound
from shared.services.context import Services
from shared.store import conversions
from shared.store.db import AutomationRow


class ConversionTotal(BaseModel):
    name: str
    # How many conversions of that name the automation's steps recorded, all versions.
    count: int
    # The sum of their values (0 when none had one), whatever their currency.
    value: float


async def totals(services: Services, automation_id: str) -> list[ConversionTotal]:
    """Per conversion name, by name."""

    def read(session: Session) -> list[ConversionTotal]:
        if session.get(AutomationRow, automation_id) is None:
            raise NotFound("automation", automation_id)
        return [
            # Rounded: a sum of doubles gathers noise past what any currency counts.
            ConversionTotal(name=name, count=count, value=round(total or 0, 6))
            for name, count, total in conversions.totals(session, automation_id)
        ]

    return await services.db(read)
