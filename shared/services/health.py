"""Whether goalflow's database and Temporal answer."""

from pydantic import BaseModel
from sqlalchemy import text

from shared.services.context import Services


class Health(BaseModel):
    # `ok`, or `unavailable: <why>`.
    database: str
    temporal: str

    @property
    def ok(self) -> bool:
        return self.database == self.temporal == "ok"


async def check(services: Services) -> Health:
    try:
        await services.db(lambda s: s.exec(text("SELECT 1")))  # type: ignore[call-overload]
        database = "ok"
    except Exception as error:
        database = f"unavailable: {error}"
    try:
        await services.client.service_client.check_health()
        temporal = "ok"
    except Exception as error:
        temporal = f"unavailable: {error}"
    return Health(database=database, temporal=temporal)
