from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import ServicesDep
from shared.services.health import Health, check

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    response_model=Health,
    responses={503: {"model": Health, "description": "The database or Temporal did not answer"}},
)
async def health(services: ServicesDep) -> JSONResponse:
    """200 when both the database and Temporal answer, else 503 naming which did not."""
    checked = await check(services)
    return JSONResponse(checked.model_dump(), status_code=200 if checked.ok else 503)
