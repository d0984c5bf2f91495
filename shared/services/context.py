"""What the services need of the process that calls them: its database,
Temporal, the task queue its enrollments run on, and the event bus. The API
builds one at start-up; a trigger or a worker step can build its own."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy.engine import Engine
from sqlmodel import Session
from temporalio.client import Client

from shared.services.events import EventBus
from shared.store.db import in_session

T = TypeVar("T")


@dataclass
class Services:
    engine: Engine
    client: Client
    task_queue: str
    bus: EventBus = field(init=False)

    def __post_init__(self) -> None:
        self.bus = EventBus(self.engine, self.client)

    async def db(self, work: Callable[[Session], T]) -> T:
        """Database work off the event loop, one session per call."""
        return await in_session(self.engine, work)
