"""What every group of activities gets: the database, the event bus, the
outbox. Database work runs on the database thread (`run_db`); network I/O
never does."""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.engine import Engine
from sqlmodel import Session
from temporalio import activity

from shared.domain.tracking import Tracker
from shared.services.context import Services
from shared.services.events import EventBus
from shared.store.db import run_db
from worker.outbox import Outbox

T = TypeVar("T")
# Within the heartbeat timeout of `remote` activities (worker/enrollment.py).
HEARTBEAT_EVERY = 2.0


@dataclass(frozen=True)
class Deps:
    engine: Engine
    bus: EventBus
    outbox: Outbox
    # None without GOALFLOW_SECRET_KEY: messages go out untracked.
    tracker: Tracker | None = None
    # What steps that enter or end other enrollments call (`start`, `remove`).
    services: Services | None = None


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


async def unbroken(work: Awaitable[T]) -> T:
    """Run `work` to its end, heartbeating meanwhile: a worker that dies is
    noticed within the heartbeat timeout, not the whole attempt's. A
    cancellation (a goal pull, a worker shutting down) waits for `work`: the
    attempt in flight counts (G3), and a message half sent is never cut off."""
    task = asyncio.ensure_future(work)
    while not task.done():
        try:
            await asyncio.wait({task}, timeout=HEARTBEAT_EVERY)
        except asyncio.CancelledError:
            pass
        # Only work that outlasts a beat heartbeats: a send that takes less costs no extra call.
        if not task.done():
            activity.heartbeat()
    return task.result()
