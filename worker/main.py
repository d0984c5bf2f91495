"""The worker process: runs enrollment workflows and their activities, bulk
enrollments on a task queue of their own, and sweeps for what a crash left
undone: events not delivered, triggers left unfired, enrollments ended in
Temporal unrecorded, resumes not signalled to the sends they held, bulk
enrollments not started."""

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator
from datetime import timedelta

import uvloop
from sqlalchemy.engine import Engine
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from shared.contracts import bulk_task_queue
from shared.domain.tracking import Tracker
from shared.domain.twilio import WEBHOOK_PATH
from shared.services import bulk, pauses, triggers
from shared.services.context import Services
from shared.services.reconcile import Sweep
from shared.settings import settings
from shared.store import db
from shared.temporal import connect
from worker.activities import Deps, activities
from worker.activities.base import HEARTBEAT_EVERY
from worker.activities.bulk import BulkActivities
from worker.bulk import BulkEnrollmentWorkflow
from worker.enrollment import EnrollmentWorkflow
from worker.outbox import Outbox, Sending
from worker.smtp import SmtpServer
from worker.twilio import TwilioAccount

log = logging.getLogger("goalflow.worker")
# Pages of bulk enrollments in flight at once (each starts up to 16 enrollments at a time).
BULK_PAGES_AT_ONCE = 2


def build_worker(
    client: Client, engine: Engine, task_queue: str, strict_sandbox: bool = False, how: Sending | None = None
) -> Worker:
    # Steps' events (a tag added) fire triggers: enrollments start on this task queue.
    services = Services(engine, client, task_queue)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[EnrollmentWorkflow],
        # Past the SDK's default of 1,000, each new run evicts a waiting one, which
        # cost the worker and the server about 4 ms each (bench.enroll_throughput
        # 2000); each cached run costs about 95 KiB of RSS (bench.memory).
        max_cached_workflows=settings().workflow_cache,
        activities=activities(
            Deps(engine, services.bus, Outbox(engine, how or sending()), tracker(), services=services)
        ),
        # The sandbox re-runs the workflow module for every workflow run and routes
        # each payload through it: a third of the worker's CPU (py-spy). It guards
        # determinism, which the tests' workers and the replay test check with the
        # strict sandbox, so a nondeterministic call still fails CI.
        workflow_runner=SandboxedWorkflowRunner() if strict_sandbox else UnsandboxedWorkflowRunner(),
        # Heartbeats go out as the activity beats, not batched over 0.8 of the timeout:
        # 8 s of a 10 s timeout left a loaded server 2 s before it retried a live send.
        max_heartbeat_throttle_interval=timedelta(seconds=HEARTBEAT_EVERY),
    )


def build_bulk_worker(
    client: Client, engine: Engine, task_queue: str, strict_sandbox: bool = False
) -> Worker:
    """Bulk enrollments run on a task queue of their own, a page or two at a time:
    their enrollments' tasks go to `task_queue` at a lower priority (shared.services.bulk)."""
    return Worker(
        client,
        task_queue=bulk_task_queue(task_queue),
        workflows=[BulkEnrollmentWorkflow],
        activities=BulkActivities(Services(engine, client, task_queue)).all(),
        max_concurrent_activities=BULK_PAGES_AT_ONCE,
        workflow_runner=SandboxedWorkflowRunner() if strict_sandbox else UnsandboxedWorkflowRunner(),
        max_heartbeat_throttle_interval=timedelta(seconds=HEARTBEAT_EVERY),
    )


def sending() -> Sending:
    """How this worker's messages leave, from GOALFLOW_SMTP_URL, GOALFLOW_TWILIO_* and friends."""
    config = settings()
    twilio = None
    if config.twilio_account_sid and config.twilio_auth_token:
        twilio = TwilioAccount(config.twilio_account_sid, config.twilio_auth_token, config.twilio_api_url)
    return Sending(
        smtp=SmtpServer.from_url(config.smtp_url) if config.smtp_url else None,
        default_sender=config.default_sender,
        provider=config.email_provider,
        ses_configuration_set=config.ses_configuration_set,
        twilio=twilio,
        sms_from=config.twilio_from,
        whatsapp_from=config.twilio_whatsapp_from,
        status_callback=f"{config.public_url}{WEBHOOK_PATH}",
    )


def tracker() -> Tracker | None:
    config = settings()
    if config.secret_key is None:
        if config.smtp_url:
            raise SystemExit(
                "GOALFLOW_SECRET_KEY is needed to send email: it signs the tracking and unsubscribe links"
            )
        return None  # Messages are only recorded: they go out untracked.
    return Tracker(config.public_url, config.secret_key)


async def sweep(services: Services, ended: Sweep) -> None:
    """Every GOALFLOW_SWEEP_SECONDS: deliver the events a crash left undelivered,
    fire the triggers it left unfired (on the versions current when their events
    were stored), record the enrollments ended in Temporal (terminated) as ended,
    release the sends still held by automations resumed since, and start the
    bulk enrollments whose workflow never started (the API died first)."""
    every = timedelta(seconds=settings().sweep_seconds)
    while True:
        try:
            count = await services.bus.redeliver_pending(older_than=every)
            if count:
                log.info("redelivered %d events a crash had left undelivered", count)
            count = await triggers.fire_pending(services, older_than=every)
            if count:
                log.info("started %d enrollments from triggers a crash had left unfired", count)
            count = await ended.run_once()
            if count:
                log.info("recorded %d enrollments ended in Temporal", count)
            count = await pauses.release_held(services.client, services.engine)
            if count:
                log.info("released %d sends held by automations resumed since", count)
            count = await bulk.drive_unfinished(services)
            if count:
                log.info("started %d bulk enrollments whose workflow was not running", count)
        except Exception:
            log.exception("sweep failed; trying again")
        await asyncio.sleep(every.total_seconds())


@contextlib.asynccontextmanager
async def running_worker(
    client: Client, engine: Engine, task_queue: str, strict_sandbox: bool = False, how: Sending | None = None
) -> AsyncIterator[Worker]:
    worker = build_worker(client, engine, task_queue, strict_sandbox, how)
    bulk_worker = build_bulk_worker(client, engine, task_queue, strict_sandbox)
    sweeper = asyncio.create_task(
        sweep(Services(engine, client, task_queue), Sweep(client, engine, task_queue))
    )
    try:
        async with worker, bulk_worker:
            yield worker
    finally:
        sweeper.cancel()


async def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s worker %(levelname)s %(message)s")
    client = await connect()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    async with running_worker(client, db.engine(), settings().task_queue):
        log.info("worker polling task queue %r", settings().task_queue)
        await stop.wait()
        log.info("stopping: finishing the tasks in hand")


if __name__ == "__main__":
    # libuv's loop: the worker's own CPU per enrollment drops by about 7% (bench.enroll_throughput).
    uvloop.run(main())
