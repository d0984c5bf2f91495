"""What routes need from the running app: the services."""

from typing import Annotated

from fastapi import Depends, Request

from shared.services.context import Services


# A coroutine: FastAPI runs a plain function in a thread, a hop per request.
async def get_services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]
