"""Pausing an automation (SPEC §5): it takes no new entries, and its running
enrollments hold before each message to the contact (email, SMS, WhatsApp)
until it resumes; timers, branches, internal notifications, webhooks and goals
go on.

A running workflow cannot read the automation's flag, so its send activity
does: seeing the automation paused, it records the enrollment as held
(`shared.store.pauses`) and answers so, and the workflow waits for a `resume`
signal. Resuming marks the automation resumed, then signals each enrollment
held and forgets it once Temporal took the signal. The worker's sweep does the
same for enrollments still recorded as held by an automation no longer paused:
a resume whose signals a crash cut short is finished there. A signal names the
pause it ends, so a repeat changes nothing."""

import asyncio
import logging
from datetime import timedelta
from functools import partial

from sqlalchemy.engine import Engine
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from shared.contracts import RESUME_SIGNAL, Resumed
from shared.services import automations
from shared.services.automations import AutomationView
from shared.services.context import Services
from shared.store import pauses
from shared.store.db import in_session

log = logging.getLogger("goalflow.pauses")

# Signals in flight at once while releasing.
SIGNALS_AT_ONCE = 50


async def pause(services: Services, automation_id: str) -> AutomationView:
    """Pause the automation; pausing it again changes nothing."""
    await services.db(lambda s: pauses.pause(s, automation_id))
    return await automations.latest(services, automation_id)


async def resume(services: Services, automation_id: str, stale_after: timedelta | None) -> AutomationView:
    """Resume the automation and release the sends it held: they go out, or are
    skipped as `stale` when held longer than `stale_after`. Resuming one that is
    not paused changes nothing, but releases what a crash left held."""
    await services.db(lambda s: pauses.resume(s, automation_id, stale_after))
    try:
        await release_held(services.client, services.engine, automation_id)
    except RPCError as error:
        # Resumed all the same: the worker's sweep signals the rest.
        log.warning(
            "resuming %s: Temporal did not take every signal (%s); the sweep will", automation_id, error
        )
    return await automations.latest(services, automation_id)


async def release_held(client: Client, engine: Engine, automation_id: str | None = None) -> int:
    """Signal the enrollments held by automations no longer paused (by
    `automation_id` only, when given) and forget them; returns how many."""
    released = 0
    while True:
        batch = await in_session(engine, lambda s: pauses.releasable(s, automation_id))
        if not batch:
            return released
        gate = asyncio.Semaphore(SIGNALS_AT_ONCE)
        outcomes = await asyncio.gather(*(_signal(client, r, gate) for r in batch), return_exceptions=True)
        reached = [r for r, outcome in zip(batch, outcomes, strict=True) if outcome is None]
        await in_session(engine, partial(pauses.released, releases=reached))
        released += len(reached)
        failed = next((o for o in outcomes if isinstance(o, BaseException)), None)
        if failed is not None:
            raise failed


async def _signal(client: Client, release: pauses.Release, gate: asyncio.Semaphore) -> None:
    async with gate:
        try:
            await client.get_workflow_handle(release.enrollment_id).signal(
                RESUME_SIGNAL, Resumed(pause=release.pause, stale_after=release.stale_after)
            )
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:
                raise
            # Ended meanwhile: nothing is held any more.
