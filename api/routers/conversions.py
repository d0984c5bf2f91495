"""Conversions recorded by `record_conversion` steps, per automation."""

from typing import Annotated

from fastapi import APIRouter, Path

from api.auth import guarded
from api.deps import ServicesDep
from api.errors import not_found
from shared.domain.ids import ID_PATTERN
from shared.services import conversions
from shared.services.conversions import ConversionTotal

router = APIRouter(tags=["automations"])

AutomationId = Annotated[str, Path(pattern=ID_PATTERN)]


@router.get("/automations/{automation_id}/conversions", **guarded("read", not_found("automation")))
async def conversion_totals(automation_id: AutomationId, services: ServicesDep) -> list[ConversionTotal]:
    """The conversions its `record_conversion` steps recorded, every version's:
    per name, how many and the sum of their values, by name."""
    return await conversions.totals(services, automation_id)
