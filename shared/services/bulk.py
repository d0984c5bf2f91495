"""Bulk enrollment (SPEC §5): a list of contacts, a list's members or a
segment's matches put into an automation, driven by one Temporal workflow
each (`worker.bulk`) on a task queue of its own.

The workflow asks for one page at a time (`enroll_page`): the next contacts
after the cursor, each entered through the same `enrollments.start` as
everything else, on the version current when the bulk enrollment was created,
so the entry rules hold (re-entry, archived, paused: a refusal is counted as
a skip with its reason). The cursor and the counts move in one commit per
page, so a page a crash cut short is done again and counted once; a contact
it enrolled already is known by its enrollment's `entered_by`, so none is
enrolled twice.

Live contacts go first. The enrollments a bulk enrollment starts have a lower
Temporal task priority than live contacts' (`GOALFLOW_BULK_PRIORITY`), so
their tasks wait behind live ones; and while events come in (`LiveTraffic`),
it starts one contact at a time and then pauses
`GOALFLOW_BULK_YIELD` times as long as that start took, leaving the machine
to them. With nothing else running it goes at full speed.

Pause, resume and cancel write the status, which the next page reads; a wake
signal spares a paused one its wait. A bulk enrollment whose workflow never
started (the API died in between) is started by the worker's sweep."""

import asyncio
import logging
from datetime import timedelta

from sqlmodel import Session
from temporalio.client import WorkflowExecutionStatus
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from shared.contracts import (
    BULK_WAKE_SIGNAL,
    BULK_WORKFLOW_NAME,
    BulkInput,
    ByBulk,
    PageResult,
    bulk_task_queue,
)
from shared.domain.bulk import FINAL, BulkView, Matched, Selection, Started
from shared.domain.errors import Conflict, NotFound
from shared.domain.ids import new_id
from shared.domain.paging import Listed, Page, one_page
from shared.services import enrollments
from shared.services.context import Services
from shared.services.triggers import skip_reason
from shared.settings import settings
from shared.store import bulk as store
from shared.store import events, lists
from shared.store.db import AutomationRow, BulkEnrollmentRow, utcnow

log = logging.getLogger("goalflow.bulk")

# Starts in flight at once within a page.
STARTS_AT_ONCE = 16
# How long a contact another start holds (its row not yet written) is waited for.
STARTING_WAIT = 10.0
# Bulk enrollments yield while events came in this recently.
LIVE_WINDOW = timedelta(seconds=10)


class Ended(Conflict):
    def __init__(self, bulk_id: str, status: str):
        super().__init__(f"bulk enrollment '{bulk_id}' is {status}")


async def create(
    services: Services, automation_id: str, selection: Selection, dry_run: bool
) -> Matched | Started:
    """Check the automation and the source, then count them (`dry_run`) or
    start the bulk enrollment on the automation's current version."""
    source = selection.source()

    def check(session: Session) -> int:
        row = session.get(AutomationRow, automation_id)
        if row is None:
            raise NotFound("automation", automation_id)
        if row.archived:
            raise Conflict(f"automation '{automation_id}' is archived and takes no new enrollments")
        if selection.list is not None:
            lists.get_list(session, selection.list)
        return row.latest_version

    version = await services.db(check)
    if dry_run:
        return Matched(matched=await services.db(lambda s: store.count(s, source)))
    bulk_id = new_id("bulk")
    await services.db(lambda s: store.create(s, bulk_id, automation_id, version, source, selection.rate))
    try:
        await drive(services, bulk_id, selection.rate)
    except RPCError as error:
        # Created all the same: the worker's sweep starts what Temporal did not take.
        log.warning(
            "bulk enrollment %s: Temporal did not take its start (%s); the sweep will", bulk_id, error
        )
    return Started(bulk_id=bulk_id)


async def drive(services: Services, bulk_id: str, rate: float | None) -> None:
    """Start the bulk enrollment's workflow unless it runs already."""
    try:
        await services.client.start_workflow(
            BULK_WORKFLOW_NAME,
            BulkInput(bulk_id=bulk_id, rate=rate),
            id=bulk_id,
            task_queue=bulk_task_queue(services.task_queue),
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            static_summary=f"bulk enrollment {bulk_id}",
        )
    except WorkflowAlreadyStartedError:
        pass  # It ran and closed: its row says how it ended.


async def drive_unfinished(services: Services) -> int:
    """The sweep's part: start the workflow of each bulk enrollment still
    running or paused whose workflow never started; one whose workflow was
    ended in Temporal (terminated) is recorded failed. How many it started."""
    rows = await services.db(store.unfinished)
    started = 0
    for row in rows:
        try:
            described = await services.client.get_workflow_handle(row.id).describe()
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:
                raise
            await drive(services, row.id, row.rate)
            started += 1
            continue
        if described.status != WorkflowExecutionStatus.RUNNING:
            log.warning("bulk enrollment %s: its workflow was ended in Temporal; recorded failed", row.id)
            await services.db(lambda s, bulk_id=row.id: store.set_status(s, bulk_id, "failed"))
    return started


async def get(services: Services, bulk_id: str) -> BulkView:
    return _view(await services.db(lambda s: store.get(s, bulk_id)))


async def of_automation(services: Services, automation_id: str, page: Page) -> Listed[BulkView]:
    def read(session: Session) -> list[BulkEnrollmentRow]:
        if session.get(AutomationRow, automation_id) is None:
            raise NotFound("automation", automation_id)
        return store.of_automation(session, automation_id, page)

    rows = await services.db(read)
    return one_page(rows, page, lambda r: (r.started_at, r.id)).map(_view)


async def pause(services: Services, bulk_id: str) -> BulkView:
    """Stop after the page in hand; pausing a paused one changes nothing."""
    return await _move(services, bulk_id, "paused", unless=FINAL)


async def resume(services: Services, bulk_id: str) -> BulkView:
    """Go on from where it paused; resuming a running one changes nothing."""
    view = await _move(services, bulk_id, "running", unless=FINAL)
    await _wake(services, bulk_id)
    return view


async def cancel(services: Services, bulk_id: str) -> BulkView:
    """Stop for good after the page in hand; the contacts it enrolled stay enrolled."""
    view = await _move(services, bulk_id, "cancelled", unless=FINAL - {"cancelled"})
    await _wake(services, bulk_id)
    return view


async def _move(services: Services, bulk_id: str, status: str, unless: frozenset[str]) -> BulkView:
    row = await services.db(lambda s: store.set_status(s, bulk_id, status, unless))
    if row.status != status and row.status in FINAL:
        raise Ended(bulk_id, row.status)
    return _view(row)


async def _wake(services: Services, bulk_id: str) -> None:
    try:
        await services.client.get_workflow_handle(bulk_id).signal(BULK_WAKE_SIGNAL)
    except RPCError as error:
        # Its workflow reads the status within its wait all the same.
        log.info("bulk enrollment %s not woken (%s)", bulk_id, error)


async def enroll_page(services: Services, bulk_id: str, size: int, count_failures: bool) -> PageResult:
    """Enroll the next page of contacts, if it is running, and record it.
    `count_failures`: a contact whose start fails for a reason other than a
    refusal counts as failed (on a page's later attempts), rather than failing
    the page for Temporal to try again."""
    row = await services.db(lambda s: store.get(s, bulk_id))
    if row.status != "running":
        return _result(row)
    contact_ids = await services.db(lambda s: store.next_page(s, row.source, row.cursor, size))
    counts = store.PageCounts(matched=len(contact_ids))
    if contact_ids:
        await _enroll(services, row, contact_ids, counts, count_failures)
    to = contact_ids[-1] if contact_ids else row.cursor
    last = len(contact_ids) < size
    recorded = await services.db(lambda s: store.advance(s, bulk_id, row.cursor, to, counts, last))
    if recorded is None:  # Another attempt recorded this page, or it ended meanwhile.
        recorded = await services.db(lambda s: store.get(s, bulk_id))
    return _result(recorded, read=len(contact_ids))


async def _enroll(
    services: Services,
    row: BulkEnrollmentRow,
    contact_ids: list[str],
    counts: store.PageCounts,
    count_failures: bool,
) -> None:
    by = ByBulk(bulk_id=row.id)
    already = await services.db(lambda s: store.entered_by_bulk(s, row.id, row.automation_id, contact_ids))
    slots = asyncio.Semaphore(STARTS_AT_ONCE)
    alone = asyncio.Lock()
    loop = asyncio.get_running_loop()
    live = live_traffic(services)

    async def enroll(contact_id: str) -> None:
        try:
            await _start(services, row, contact_id, by)
            counts.enrolled += 1
        except (Conflict, NotFound) as refusal:
            counts.skip(skip_reason(refusal))
        except Exception:
            if not count_failures:
                raise
            log.exception("bulk enrollment %s could not enroll contact %s", row.id, contact_id)
            counts.failed += 1

    async def one(contact_id: str) -> None:
        if contact_id in already:  # An earlier attempt at this page enrolled it.
            counts.enrolled += 1
            return
        async with slots:
            if not await live.present():
                await enroll(contact_id)
                return
            async with alone:  # Live contacts are being served: one start at a time, then a pause.
                began = loop.time()
                await enroll(contact_id)
                await asyncio.sleep((loop.time() - began) * settings().bulk_yield)

    await asyncio.gather(*(one(c) for c in contact_ids))


async def _start(services: Services, row: BulkEnrollmentRow, contact_id: str, by: ByBulk) -> None:
    """Start the contact's enrollment. Another start of the same turn in flight
    (`Starting`) is waited for until its row tells whose it is: this bulk
    enrollment's own, from an attempt a crash cut short, counts as enrolled."""
    deadline = asyncio.get_running_loop().time() + STARTING_WAIT
    while True:
        try:
            await enrollments.start(
                services, row.automation_id, contact_id, version=row.version, entered_by=by
            )
            return
        except enrollments.Starting:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.5)
            mine = await services.db(
                lambda s: store.entered_by_bulk(s, row.id, row.automation_id, [contact_id])
            )
            if mine:
                return


async def fail(services: Services, bulk_id: str) -> PageResult:
    """Its workflow gave up on a page (the database did not answer through every retry)."""
    return _result(await services.db(lambda s: store.set_status(s, bulk_id, "failed")))


class LiveTraffic:
    """Whether live contacts are being served: events came in within
    LIVE_WINDOW (a tag, a click, an open: what moves contacts to their goals),
    read at most once a second. Temporal's task queue statistics cannot tell:
    a signal to a cached enrollment goes to its worker's sticky queue, which
    they do not count."""

    def __init__(self, services: Services):
        self.services = services
        self.checked = -1.0
        self.answer = False

    async def present(self) -> bool:
        now = asyncio.get_running_loop().time()
        if now - self.checked >= 1.0:
            self.checked = now
            since = utcnow() - LIVE_WINDOW
            answer = await self.services.db(lambda s: events.received_since(s, since)) > 0
            if answer != self.answer:
                log.info("bulk enrollments %s", "yield to live contacts" if answer else "go at full speed")
            self.answer = answer
        return self.answer


# One LiveTraffic per task queue and process: its reading is shared by every page.
_live: dict[tuple[int, str], LiveTraffic] = {}


def live_traffic(services: Services) -> LiveTraffic:
    key = (id(services.client), services.task_queue)
    if key not in _live:
        _live[key] = LiveTraffic(services)
    return _live[key]


def _result(row: BulkEnrollmentRow, read: int = 0) -> PageResult:
    return PageResult(
        status=row.status,
        matched=row.matched,
        enrolled=row.enrolled,
        skipped=sum(row.skipped.values()),
        failed=row.failed,
        read=read,
    )


def _view(row: BulkEnrollmentRow) -> BulkView:
    return BulkView(
        bulk_id=row.id,
        automation_id=row.automation_id,
        version=row.version,
        status=row.status,  # type: ignore[arg-type]
        matched=row.matched,
        enrolled=row.enrolled,
        skipped=row.skipped,
        failed=row.failed,
        started_at=row.started_at,
        finished_at=row.finished_at,
        rate=row.rate,
    )
