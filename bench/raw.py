"""The raw-Temporal baseline: a trivial workflow that waits on a condition,
with a signal that ends the wait, and the same kind of first step as an
enrollment's (one local activity writing one row); and a trivial workflow that
sends one 100 KB HTML email over SMTP (GOALFLOW_SMTP_URL), as a local or as a
regular activity. Run its worker as

    python -m bench.raw --address 127.0.0.1:7233 --task-queue raw --db raw.db
"""

import argparse
import asyncio
import os
import sqlite3
from datetime import timedelta
from email.message import EmailMessage

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

from bench.content import newsletter_html
from shared.settings import settings
from worker.smtp import SmtpServer


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


@workflow.defn(name="RawSend")
class RawSend:
    """One email, sent by a local activity or a regular one with goalflow's bounds."""

    @workflow.run
    async def run(self, local: bool) -> None:
        send_id = workflow.info().workflow_id
        if local:
            await workflow.execute_local_activity(
                "smtp_send", send_id, start_to_close_timeout=timedelta(seconds=30)
            )
        else:
            await workflow.execute_activity(
                "smtp_send",
                send_id,
                schedule_to_close_timeout=timedelta(minutes=15),
                start_to_close_timeout=timedelta(seconds=60),
            )


class Sender:
    def __init__(self) -> None:
        url = os.environ.get("GOALFLOW_SMTP_URL")
        self.server = SmtpServer.from_url(url) if url else None
        self.html = newsletter_html(100_000, "raw")

    @activity.defn(name="smtp_send")
    async def smtp_send(self, send_id: str) -> None:
        assert self.server is not None, "RawSend needs GOALFLOW_SMTP_URL"
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = "raw@x.io", f"{send_id}@x.io", "Hi"
        message["X-Raw-Id"] = send_id
        message.set_content("Hi")
        message.add_alternative(self.html, subtype="html")
        await self.server.send(message)


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
        workflows=[RawWaiter, RawSend],
        max_cached_workflows=settings().workflow_cache,  # As goalflow's worker.
        activities=[marks.mark, Sender().smtp_send],
        activity_executor=ThreadPoolExecutor(4),
    ):
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
