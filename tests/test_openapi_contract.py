"""The OpenAPI tells the truth: schemathesis, as a user runs it, against the
app served over real HTTP with a real worker and the time-skipping server."""

import asyncio
import os
import uuid
from pathlib import Path

import pytest
import uvicorn

from api.app import create_app
from devstack import free_port
from tests.conftest import binary, fresh_engine, time_skipping_server
from worker.main import running_worker

pytestmark = pytest.mark.workflow

ROOT = Path(__file__).parent.parent
# Enough to find what it found before each fix, within about a minute.
EXAMPLES = 6


async def test_schemathesis_finds_no_failure_and_no_server_error(
    test_server_path: str, tmp_path: Path
) -> None:
    task_queue = f"tq-{uuid.uuid4().hex[:8]}"
    engine = fresh_engine("sqlite", str(tmp_path))
    # A server of its own: the enrollments schemathesis starts should not outlive the test.
    async with time_skipping_server(test_server_path) as env:
        app = create_app(engine, env.client, task_queue, auth=False)
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        async with running_worker(env.client, engine, task_queue):
            serving = asyncio.create_task(server.serve())
            try:
                while not server.started:
                    assert not serving.done(), "the API did not start"
                    await asyncio.sleep(0.05)
                st = await asyncio.create_subprocess_exec(
                    binary("st") or "st", "--no-color", "run", f"http://127.0.0.1:{port}/openapi.json",
                    # Every check, as schemathesis.toml says: `--checks all` would override its exceptions.
                    "--seed", "1", "--max-examples", str(EXAMPLES), "--workers", "1",
                    cwd=ROOT, env={**os.environ, "NO_COLOR": "1"},
                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
                )  # fmt: skip
                output = (await st.communicate())[0].decode()
            finally:
                server.should_exit = True
                await serving
    engine.dispose()
    assert st.returncode == 0, output
