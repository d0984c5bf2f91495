"""Enrollments: the one way in (`start`, for the API, triggers, bulk entry and
steps alike), reading one, removing one, and a contact's list.

Entry is exclusive by the workflow id (`store.enrollments`); an enrollment that
Temporal ended without its workflow code running (terminated) is recorded as
ended when it is met here (`reconcile.settle`), so it never blocks an entry."""

import asyncio
import logging
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel
from temporalio.client import WorkflowQueryFailedError, WorkflowQueryRejectedError
from temporalio.common import (
    Priority,
    QueryRejectCondition,
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from shared.contracts import (
    AUTOMATION_ID,
    AUTOMATION_VERSION,
    CONTACT_ID,
    CURRENT_STEP,
    GOALS_MET,
    REMOVE_UPDATE,
    STATE_QUERY,
    WORKFLOW_NAME,
    ByApi,
    ByBulk,
    EnrollmentInput,
    EnrollmentSnapshot,
    EnrollmentView,
    EnteredBy,
    RegisterInput,
    Status,
)
from shared.domain.errors import Conflict, Unavailable
from shared.domain.paging import Listed, Page, one_page
from shared.services import reconcile
from shared.services.context import Services
from shared.settings import settings
from shared.store import enrollments
from shared.store.db import EnrollmentRow, utcnow

log = logging.getLogger("goalflow.enrollments")
BY_API = ByApi()


class Enrolled(BaseModel):
    enrollment_id: str
    automation_id: str
    version: int
    contact_id: str
    status: Literal["running"] = "running"


class EnrollmentSummary(BaseModel):
    enrollment_id: str
    automation_id: str
    version: int
    contact_id: str
    status: Status
    end_reason: str | None
    entered_by: EnteredBy = BY_API


class Starting(Conflict):
    """Another request is starting the same enrollment (same contact, same turn)."""


async def start(
    services: Services,
    automation_id: str,
    contact_id: str,
    *,
    version: int | None = None,
    entered_by: EnteredBy = BY_API,
    seen: Sequence[str] = (),
    sender: str | None = None,
) -> Enrolled:
    """Enroll the contact in the automation's `version` (by default its latest).
    Conflict when it is archived or paused (`AutomationPaused`), when the contact is in it already, or was
    before and re-entry is `never`. `entered_by` is what started it; `seen` are
    event ids that count as seen from the start (the trigger's event, G15);
    `sender`, in a sequence, the sender its emails go out from instead of the sequence's."""
    try:
        entry = await services.db(lambda s: enrollments.plan_entry(s, automation_id, contact_id, version))
    except enrollments.AlreadyEnrolled as blocking:
        # Unless that enrollment was ended in Temporal, unseen so far: then it is recorded, and
        # the contact may enter (if the sweep recorded it meanwhile, planning again sees that too).
        await reconcile.settle(services.client, services.engine, blocking.enrollment_id)
        entry = await services.db(lambda s: enrollments.plan_entry(s, automation_id, contact_id, version))
    plan = entry.published.plan
    register = RegisterInput(
        enrollment_id=entry.enrollment_id,
        automation_id=automation_id,
        version=entry.version,
        contact_id=entry.contact_id,
        seq=entry.seq,
        enrolled_at=utcnow(),
        entered_by=entered_by,
    )
    try:
        await services.client.start_workflow(
            WORKFLOW_NAME,
            EnrollmentInput(
                **dict(register),
                automation=plan,
                send_timeout=settings().send_timeout,
                seen=list(seen),
                sender=sender,
            ),
            id=entry.enrollment_id,
            task_queue=services.task_queue,
            # The id is unique forever: this is what refuses a concurrent second entry.
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(AUTOMATION_ID, automation_id),
                    SearchAttributePair(AUTOMATION_VERSION, entry.version),
                    SearchAttributePair(CONTACT_ID, entry.contact_id),
                    SearchAttributePair(CURRENT_STEP, plan.steps[0].id),
                    SearchAttributePair(GOALS_MET, []),
                ]
            ),
            static_summary=f"{entry.published.name} v{entry.version} · contact {entry.contact_id}",
            # Bulk work waits behind live contacts' tasks (shared.services.bulk).
            priority=Priority(priority_key=settings().bulk_priority)
            if isinstance(entered_by, ByBulk)
            else Priority.default,
        )
    except WorkflowAlreadyStartedError:
        raise Starting(
            f"contact '{contact_id}' is already being enrolled in automation '{automation_id}'"
        ) from None
    # The row is committed before we answer: events posted after this reach it.
    await services.db(lambda s: enrollments.record(s, register))
    return Enrolled(
        enrollment_id=entry.enrollment_id,
        automation_id=automation_id,
        version=entry.version,
        contact_id=entry.contact_id,
    )


async def get(services: Services, enrollment_id: str) -> EnrollmentView:
    """A running enrollment's live state, or the state it saved when it ended."""
    handle = services.client.get_workflow_handle(enrollment_id)
    snapshot: EnrollmentSnapshot | None = None
    try:
        # Asked of Temporal first, without a database read: this is what pollers call.
        snapshot = await handle.query(
            STATE_QUERY, result_type=EnrollmentSnapshot, reject_condition=QueryRejectCondition.NOT_OPEN
        )
    except WorkflowQueryRejectedError:
        pass  # Ended: its saved state is in the database.
    except RPCError as error:
        if error.status != RPCStatusCode.NOT_FOUND:
            raise _unavailable(error) from None
    except WorkflowQueryFailedError as error:
        raise _unavailable(error) from None
    if snapshot is None:
        snapshot = await _final_state(services, enrollment_id)
    return await _complete(services, snapshot)


async def remove(services: Services, enrollment_id: str, reason: str | None = None) -> EnrollmentView:
    """Take the contact out of the automation at once (status `removed`, end
    reason `reason`, by default "removed through the API"); an enrollment that
    ended already answers with its end."""
    row = await services.db(lambda s: enrollments.get_row(s, enrollment_id))
    if row.status != "running" and row.final_state:
        return await _complete(services, EnrollmentSnapshot.model_validate(row.final_state))
    handle = services.client.get_workflow_handle(enrollment_id)
    try:
        if reason is None:  # As before reasons: any worker's enrollment takes it.
            snapshot = await handle.execute_update(REMOVE_UPDATE, result_type=EnrollmentSnapshot)
        else:
            snapshot = await handle.execute_update(REMOVE_UPDATE, reason, result_type=EnrollmentSnapshot)
    except RPCError as error:
        if error.status != RPCStatusCode.NOT_FOUND:
            raise
        snapshot = await _final_state(services, enrollment_id)  # Its workflow was closed in Temporal.
    return await _complete(services, snapshot)


async def for_contact(services: Services, contact_id: str, page: Page) -> Listed[EnrollmentSummary]:
    """The contact's enrollments, oldest first; those marked running are checked
    against Temporal, so one terminated there reads ended now, not at the next sweep."""
    rows = await services.db(lambda s: enrollments.list_for_contact(s, contact_id, page))
    running = [r.id for r in rows if r.status == "running"]
    settled = await asyncio.gather(
        *(reconcile.settle(services.client, services.engine, e) for e in running), return_exceptions=True
    )
    for enrollment_id, outcome in zip(running, settled, strict=True):
        if isinstance(outcome, Exception):  # Temporal slow or down: the rows as they are.
            log.warning("could not check %s against Temporal: %s", enrollment_id, outcome)
    if any(isinstance(s, EnrollmentSnapshot) for s in settled):
        rows = await services.db(lambda s: enrollments.list_for_contact(s, contact_id, page))
    return one_page(rows, page, lambda r: (r.enrolled_at, r.id)).map(_summary)


def _summary(row: EnrollmentRow) -> EnrollmentSummary:
    return EnrollmentSummary(
        enrollment_id=row.id,
        automation_id=row.automation_id,
        version=row.version,
        contact_id=row.contact_id,
        status=row.status,  # type: ignore[arg-type]
        end_reason=row.end_reason,
        entered_by=row.entered_by or BY_API,
    )


async def _final_state(services: Services, enrollment_id: str) -> EnrollmentSnapshot:
    """The state an ended enrollment saved, or, when it was ended in Temporal
    without saving it (terminated), its last state with that end recorded now."""
    row = await services.db(lambda s: enrollments.get_row(s, enrollment_id))
    if row.final_state:
        return EnrollmentSnapshot.model_validate(row.final_state)
    try:
        settled = await reconcile.settle(services.client, services.engine, enrollment_id)
    except (RPCError, WorkflowQueryFailedError) as error:
        raise _unavailable(error) from None
    if settled is None:  # Recorded meanwhile by the sweep, or by the workflow.
        row = await services.db(lambda s: enrollments.get_row(s, enrollment_id))
        if not row.final_state:
            raise Unavailable(f"enrollment '{enrollment_id}' is ending; ask again")
        return EnrollmentSnapshot.model_validate(row.final_state)
    return settled


async def _complete(services: Services, snapshot: EnrollmentSnapshot) -> EnrollmentView:
    """The whole view: what earlier runs left in the database, read only when there is some."""
    if snapshot.complete:
        return snapshot.view()
    return await services.db(lambda s: enrollments.complete(s, snapshot))


def _unavailable(error: Exception) -> Unavailable:
    return Unavailable(f"enrollment state unavailable: Temporal did not answer ({error})")
