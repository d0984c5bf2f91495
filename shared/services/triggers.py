"""Triggers fire (SPEC §5): the event bus records a firing with each event that
fires a trigger, in the event's transaction, and evaluates it right after; the
worker's sweep evaluates what a crash left. Evaluating a firing: the segment,
checked now; then `enrollments.start` on the version that was current when
the event was stored, its entry rules deciding (re-entry, archived, paused: a
refusal is recorded as the firing's reason). The new enrollment records what
started it, and has seen the event that did (G15).

Each firing starts one enrollment at most: it is claimed before it is
evaluated, the enrollment it starts is found by what started it, and Temporal's
workflow id refuses a second start of the same turn."""

import logging
from collections.abc import Sequence
from datetime import timedelta

from shared.contracts import ByTrigger
from shared.domain.errors import Conflict, NotFound
from shared.services import enrollments
from shared.services.context import Services
from shared.store import segments
from shared.store import triggers as firings
from shared.store.db import utcnow
from shared.store.enrollments import AlreadyEnrolled, Archived, AutomationPaused, OnceOnly, published

log = logging.getLogger("goalflow.triggers")

# How long a process may take to evaluate a firing it claimed before another may take it over.
LEASE = timedelta(minutes=1)
# A segment's check that fails is recorded with this reason.
SEGMENT_NOT_MET = "segment not met"
# Firings a sweep reads at a time.
BATCH = 500
# What evaluating one firing came to.
STARTED, SETTLED, LEFT = "started", "settled", "left"


def skip_reason(refusal: Exception) -> str:
    """How a refused entry is counted: a short reason for the usual ones."""
    if isinstance(refusal, AlreadyEnrolled):
        return "already enrolled"
    if isinstance(refusal, OnceOnly):
        return "reentry never"
    if isinstance(refusal, Archived):
        return "archived"
    if isinstance(refusal, AutomationPaused):
        return refusal.reason
    if isinstance(refusal, NotFound):  # One reason for every contact not found, not one each.
        return f"{refusal.what} not found"
    return str(refusal)


async def fire(services: Services, event_ids: Sequence[str]) -> int:
    """Evaluate the pending firings of these events; how many enrollments they started."""
    keys = await services.db(lambda s: firings.pending(s, event_ids=list(event_ids)))
    return [await _fire(services, key) for key in keys].count(STARTED)


async def fire_pending(services: Services, older_than: timedelta = timedelta(0)) -> int:
    """The sweep's part: evaluate the firings a crash left pending, stored at
    least `older_than` ago (younger ones are being evaluated where they were
    stored). Returns how many enrollments they started."""
    cutoff = utcnow() - older_than
    started = 0
    while True:
        keys = await services.db(lambda s: firings.pending(s, stored_before=cutoff, limit=BATCH))
        outcomes = [await _fire(services, key) for key in keys]
        started += outcomes.count(STARTED)
        # A full batch may have more behind it. Firings left pending (held elsewhere,
        # Temporal not answering) would come first again: they wait for the next sweep.
        if len(keys) < BATCH or LEFT in outcomes:
            return started


async def _fire(services: Services, key: firings.Key) -> str:
    """Evaluate one firing: STARTED an enrollment, SETTLED otherwise, or LEFT
    pending (another process holds it, or it must be evaluated again later)."""
    firing = await services.db(lambda s: firings.claim(s, key, LEASE))
    if firing is None:
        return LEFT
    try:
        return await _evaluate(services, key, firing.version, firing.trigger)
    except Exception:
        # Temporal or the database did not answer: the sweep tries again.
        log.exception("trigger firing %s could not be evaluated; left to the sweep", key)
        await services.db(lambda s: firings.release(s, key))
        return LEFT


async def _evaluate(services: Services, key: firings.Key, version: int, trigger: int) -> str:
    earlier = await services.db(lambda s: firings.started_by(s, key))
    if earlier is not None:  # A crash came between starting it and recording so.
        await services.db(lambda s: firings.settle(s, key, "enrolled", enrollment_id=earlier))
        return SETTLED
    segment = (await services.db(lambda s: published(s, key.automation_id, version))).segment
    if segment is not None:
        met = await services.db(lambda s: segments.matches(s, key.contact_id, segment))
        if not met:
            await services.db(lambda s: firings.settle(s, key, "skipped", SEGMENT_NOT_MET))
            return SETTLED
    try:
        enrolled = await enrollments.start(
            services,
            key.automation_id,
            key.contact_id,
            version=version,
            entered_by=ByTrigger(trigger=trigger, event_id=key.event_id),
            seen=[key.event_id],
        )
    except enrollments.Starting:
        # A concurrent start of the same turn: this firing's own earlier attempt, or another
        # entry. The sweep tells which by the enrollment's row, once it is written.
        await services.db(lambda s: firings.release(s, key))
        return LEFT
    except (Conflict, NotFound) as refusal:
        reason = skip_reason(refusal)
        await services.db(lambda s: firings.settle(s, key, "skipped", reason))
        return SETTLED
    await services.db(lambda s: firings.settle(s, key, "enrolled", enrollment_id=enrolled.enrollment_id))
    return STARTED
