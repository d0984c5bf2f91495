from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.deps import ClientDep, DbDep

router = APIRouter(tags=["health"])


@router.get("/health")
async def health(db: DbDep, client: ClientDep) -> Any:
    """200 when both the database and Temporal answer, else 503 naming which did not."""
    checks: dict[str, str] = {}
    try:
        await db(lambda s: s.exec(text("SELECT 1")))  # type: ignore[call-overload]
        checks["database"] = "ok"
    except Exception as error:
        checks["database"] = f"unavailable: {error}"
    try:
        await client.service_client.check_health()
        checks["temporal"] = "ok"
    except Exception as error:
        checks["temporal"] = f"unavailable: {error}"
    ok = all(v == "ok" for v in checks.values())
    return JSONResponse(checks, status_code=200 if ok else 503)
