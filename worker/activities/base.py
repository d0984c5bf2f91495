"""What every group of activities gets: the database, the event bus, the
outbox. Database work runs on the database thread (`run_db`); network I/O
never does."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.engine import Engine
from sqlmodel import Session

from shared.domain.tracking import Tracker
from shared.services.events import EventBus
from shared.store.db import run_db
from worker.outbox import Outbox

T = TypeVar("T")


@dataclass(frozen=True)
class Deps:
    engine: Engine
    bus: EventBus
    outbox: Outbox
    # None without GOALFLOW_SECRET_KEY: messages go out untracked.
    tracker: Tracker | None = None


class ActivityGroup:
    """Activities that share their dependencies; `all` lists them for the worker."""

    def __init__(self, deps: Deps):
        self.deps = deps
        self.engine = deps.engine

    def all(self) -> list[Callable[..., Any]]:
        raise NotImplementedError

    async def db(self, work: Callable[[Session], T]) -> T:
        """Run `work` in a session on the database thread."""

        def run() -> T:
            with Session(self.engine, expire_on_commit=False) as session:
                return work(session)

        return await run_db(self.engine, run)
