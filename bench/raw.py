"""The raw-Temporal baseline: a trivial workflow that waits on a condition,
with a signal that ends the wait, and the same kind of first step as an
enrollment's (one local activity writing one row). Run its worker as

    python -m bench.raw --address 127.0.0.1:7233 --task-queue raw --db raw.db
"""

import argparse
import asyncio
import sqlite3
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

from shared.settings import settings


@workflow.defn(name="RawWaiter")
class RawWaiter:
    def __init__(self) -> None:
        self.moved = False

    @workflow.run
    async def run(self) -> None:
        await workflow.execute_local_activity(
            "mark", workflow.info().workflow_id, start_to_close_timeout=timedelta(seconds=30)
        )
        await workflow.wait_condition(lambda: self.moved)

    @workflow.signal
    def move(self) -> None:
        self.moved = True

    @workflow.query
    def state(self) -> bool:
        return self.moved


class Marks:
    def __init__(self, path: str):
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=wal")
        self.db.execute("CREATE TABLE IF NOT EXISTS marks (id TEXT PRIMARY KEY)")

    @activity.defn(name="mark")
    def mark(self, workflow_id: str) -> None:
        self.db.execute("INSERT OR IGNORE INTO marks VALUES (?)", (workflow_id,))


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--address", required=True)
    parser.add_argument("--task-queue", default="raw")
    parser.add_argument("--db", required=True)
    args = parser.parse_args()
    client = await Client.connect(args.address)
    marks = Marks(args.db)
    from concurrent.futures import ThreadPoolExecutor

    async with Worker(
        client,
        task_queue=args.task_queue,
        workflows=[RawWaiter],
        max_cached_workflows=settings().workflow_cache,  # As goalflow's worker.
        activities=[marks.mark],
        activity_executor=ThreadPoolExecutor(4),
    ):
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
