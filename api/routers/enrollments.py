from typing import Any

from fastapi import APIRouter, HTTPException, status
from temporalio.client import Client, WorkflowQueryFailedError, WorkflowQueryRejectedError
from temporalio.common import (
    QueryRejectCondition,
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from api.auth import guarded
from api.deps import ClientDep, Db, DbDep, TaskQueueDep
from api.schemas import EnrollIn
from shared.contracts import (
    AUTOMATION_ID,
    AUTOMATION_VERSION,
    CONTACT_ID,
    CURRENT_STEP,
    GOALS_MET,
    REMOVE_UPDATE,
    STATE_QUERY,
    WORKFLOW_NAME,
    EnrollmentInput,
    EnrollmentSnapshot,
    EnrollmentView,
    RegisterInput,
)
from shared.domain.errors import Conflict
from shared.services import reconcile
from shared.store import enrollments
from shared.store.db import utcnow

router = APIRouter(tags=["enrollments"])


@router.post(
    "/automations/{automation_id}/enrollments", status_code=status.HTTP_201_CREATED, **guarded("admin")
)
async def enroll(
    automation_id: str, body: EnrollIn, db: DbDep, client: ClientDep, task_queue: TaskQueueDep
) -> dict[str, Any]:
    """Enroll a contact in the automation's latest version. 409 when it is
    already running there, or was enrolled before and re-entry is `never`."""
    try:
        entry = await db(lambda s: enrollments.plan_entry(s, automation_id, body.contact_id))
    except enrollments.AlreadyEnrolled as blocking:
        # Unless that enrollment was ended in Temporal, unseen so far: then it is recorded, and
        # the contact may enter (if the sweep recorded it meanwhile, planning again sees that too).
        await reconcile.settle(client, db.engine, blocking.enrollment_id)
        entry = await db(lambda s: enrollments.plan_entry(s, automation_id, body.contact_id))
    plan = entry.published.plan
    register = RegisterInput(
        enrollment_id=entry.enrollment_id,
        automation_id=automation_id,
        version=entry.version,
        contact_id=entry.contact_id,
        seq=entry.seq,
        enrolled_at=utcnow(),
    )
    try:
        await client.start_workflow(
            WORKFLOW_NAME,
            EnrollmentInput(**register.model_dump(), automation=plan),
            id=entry.enrollment_id,
            task_queue=task_queue,
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
        )
    except WorkflowAlreadyStartedError:
        raise Conflict(
            f"contact '{body.contact_id}' is already being enrolled in automation '{automation_id}'"
        ) from None

    def save(session: Any) -> None:
        enrollments.record(session, register)

    # The row is committed before we answer: events posted after this reach it.
    await db(save)
    return {
        "enrollment_id": entry.enrollment_id,
        "automation_id": automation_id,
        "version": entry.version,
        "contact_id": entry.contact_id,
        "status": "running",
    }


@router.get("/enrollments/{enrollment_id}", **guarded("read"))
async def get_enrollment(enrollment_id: str, db: DbDep, client: ClientDep) -> EnrollmentView:
    """A running enrollment's live state, or the state it saved when it ended."""
    handle = client.get_workflow_handle(enrollment_id)
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
        snapshot = await _final_state(enrollment_id, db, client)
    return await _complete(snapshot, db)


async def _final_state(enrollment_id: str, db: Db, client: Client) -> EnrollmentSnapshot:
    """The state an ended enrollment saved, or, when it was ended in Temporal
    without saving it (terminated), its last state with that end recorded now."""
    row = await db(lambda s: enrollments.get_row(s, enrollment_id))
    if row.final_state:
        return EnrollmentSnapshot.model_validate(row.final_state)
    try:
        settled = await reconcile.settle(client, db.engine, enrollment_id)
    except (RPCError, WorkflowQueryFailedError) as error:
        raise _unavailable(error) from None
    if settled is None:  # Recorded meanwhile by the sweep, or by the workflow.
        row = await db(lambda s: enrollments.get_row(s, enrollment_id))
        if not row.final_state:
            raise HTTPException(503, f"enrollment '{enrollment_id}' is ending; ask again")
        return EnrollmentSnapshot.model_validate(row.final_state)
    return settled


async def _complete(snapshot: EnrollmentSnapshot, db: Db) -> EnrollmentView:
    """The whole view: what earlier runs left in the database, read only when there is some."""
    if snapshot.complete:
        return snapshot.view()
    return await db(lambda s: enrollments.complete(s, snapshot))


def _unavailable(error: Exception) -> HTTPException:
    return HTTPException(503, f"enrollment state unavailable: Temporal did not answer ({error})")


@router.delete("/enrollments/{enrollment_id}", **guarded("admin"))
async def remove_enrollment(enrollment_id: str, db: DbDep, client: ClientDep) -> EnrollmentView:
    """Remove the contact from the automation at once (status `removed`)."""
    row = await db(lambda s: enrollments.get_row(s, enrollment_id))
    if row.status != "running" and row.final_state:
        return await _complete(EnrollmentSnapshot.model_validate(row.final_state), db)
    handle = client.get_workflow_handle(enrollment_id)
    try:
        snapshot = await handle.execute_update(REMOVE_UPDATE, result_type=EnrollmentSnapshot)
    except RPCError as error:
        if error.status != RPCStatusCode.NOT_FOUND:
            raise
        snapshot = await _final_state(enrollment_id, db, client)  # Its workflow was closed in Temporal.
    return await _complete(snapshot, db)
