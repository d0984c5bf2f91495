"""The services as a trigger, bulk entry or a step will call them: without
FastAPI, against the real time-skipping server, a worker and each database."""

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from sqlalchemy.engine import Engine
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from shared.domain.errors import Conflict, NotFound
from shared.domain.paging import Listed, Page
from shared.services import automations, contacts, enrollments
from shared.services.context import Services
from shared.services.enrollments import Enrolled, EnrollmentSummary
from tests.builders import wait
from tests.conftest import time_skipping_server
from worker.main import running_worker

pytestmark = pytest.mark.workflow


@pytest_asyncio.fixture
async def services(time_env: WorkflowEnvironment, engine: Engine) -> AsyncIterator[Services]:
    async with _services(time_env.client, engine) as found:
        yield found


class _services:
    """Services on a task queue of their own, with a worker; running enrollments end with the test."""

    def __init__(self, client: Client, engine: Engine):
        self.services = Services(engine, client, f"tq-{uuid.uuid4().hex[:8]}")

    async def __aenter__(self) -> Services:
        self._worker = running_worker(self.services.client, self.services.engine, self.services.task_queue)
        await self._worker.__aenter__()
        return self.services

    async def __aexit__(self, *exc: object) -> None:
        for row in (await _all_enrollments(self.services)).items:
            if row.status == "running":
                await self.services.client.get_workflow_handle(row.enrollment_id).terminate("test over")
        await self._worker.__aexit__(*exc)


async def _all_enrollments(services: Services) -> Listed[EnrollmentSummary]:
    return await enrollments.for_contact(services, "ada", Page())


async def test_an_archived_automation_refuses_a_start_and_keeps_its_running_enrollments(
    services: Services,
) -> None:
    await contacts.create(services, {"id": "ada"})
    await contacts.create(services, {"id": "grace"})
    automation = await automations.create(services, _definition())
    running = await enrollments.start(services, automation.id, "ada")
    assert (await automations.archive(services, automation.id)).archived
    with pytest.raises(Conflict, match="archived"):
        await enrollments.start(services, automation.id, "grace")
    assert (await enrollments.get(services, running.enrollment_id)).status == "running"
    with pytest.raises(NotFound, match="contact 'nobody'"):
        await enrollments.start(services, (await automations.create(services, _definition())).id, "nobody")


async def test_concurrent_starts_of_one_contact_enroll_it_once(engine: Engine, test_server_path: str) -> None:
    # A server of its own, as in test_api: a burst of duplicate starts can stop its clock for later tests.
    async with time_skipping_server(test_server_path) as env, _services(env.client, engine) as services:
        await contacts.create(services, {"id": "ada"})
        automation = await automations.create(services, _definition())
        outcomes = await asyncio.gather(
            *(enrollments.start(services, automation.id, "ada") for _ in range(10)), return_exceptions=True
        )
        started = [o for o in outcomes if isinstance(o, Enrolled)]
        assert len(started) == 1 and all(isinstance(o, Conflict) for o in outcomes if o not in started)
        listed = (await _all_enrollments(services)).items
        assert [(e.enrollment_id, e.status) for e in listed] == [(started[0].enrollment_id, "running")]
        removed = await enrollments.remove(services, started[0].enrollment_id)
        assert removed.status == "removed"
        assert (await enrollments.start(services, automation.id, "ada")).enrollment_id.endswith(".2")


def _definition() -> dict[str, object]:
    return {"name": "n", "steps": [wait("pause")]}
