"""What routes need from the running app: the database, Temporal, the event bus."""

from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from sqlalchemy.engine import Engine
from sqlmodel import Session
from temporalio.client import Client

from shared.services.events import EventBus
from shared.store.db import run_db

T = TypeVar("T")


async def get_engine(request: Request) -> Engine:
    return request.app.state.engine


async def get_client(request: Request) -> Client:
    return request.app.state.client


async def get_bus(request: Request) -> EventBus:
    return request.app.state.bus


async def get_task_queue(request: Request) -> str:
    return request.app.state.task_queue


class Db:
    """Runs database work off the event loop, one session per call."""

    def __init__(self, engine: Engine):
        self.engine = engine

    async def __call__(self, work: Callable[[Session], T]) -> T:
        def run() -> T:
            with Session(self.engine, expire_on_commit=False) as session:
                return work(session)

        return await run_db(self.engine, run)


async def get_db(engine: Annotated[Engine, Depends(get_engine)]) -> Db:
    return Db(engine)


# Dependencies are coroutines: FastAPI runs a plain function in a thread, a hop per request.
DbDep = Annotated[Db, Depends(get_db)]
ClientDep = Annotated[Client, Depends(get_client)]
BusDep = Annotated[EventBus, Depends(get_bus)]
TaskQueueDep = Annotated[str, Depends(get_task_queue)]
