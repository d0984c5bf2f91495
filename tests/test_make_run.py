"""`make run` itself: `python -m devstack` as a user starts and stops it."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session

from devstack import free_port
from shared.store.db import Contact, make_engine
from tests.conftest import DATABASES, POSTGRES_URL, fresh_engine

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("database", DATABASES)
def test_make_run_uses_the_database_the_environment_names_and_stops_on_ctrl_c(
    database: str, tmp_path: Path
) -> None:
    if database == "postgres":
        fresh_engine("postgres", str(tmp_path)).dispose()  # Empty, as a new database is.
        url = POSTGRES_URL
    else:
        url = f"sqlite:///{tmp_path}/elsewhere.db"
    api_port = free_port()
    command = [sys.executable, "-m", "devstack", "--home", str(tmp_path / "home"),
               "--temporal-port", str(free_port()), "--ui-port", str(free_port()), "--api-port", str(api_port)]  # fmt: skip
    stack = subprocess.Popen(
        command,
        env={**{k: v for k, v in os.environ.items() if k != "GOALFLOW_AUTH"}, "GOALFLOW_DATABASE_URL": url},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        banner = [stack.stdout.readline() for _ in range(7)]  # type: ignore[union-attr]
        assert banner[0] == "goalflow is running\n", banner
        assert any(line.split() == ["database", url] for line in banner), banner
        assert any(line.startswith("  auth         off, on 127.0.0.1 only") for line in banner), banner
        created = httpx.post(f"http://127.0.0.1:{api_port}/contacts", json={"id": "ada"}, timeout=30)
        assert created.status_code == 201, created.text
        stack.send_signal(signal.SIGINT)  # Ctrl-C
        rest = stack.communicate(timeout=60)[0]
    finally:
        stack.kill()
    assert stack.returncode == 0, rest
    assert rest.strip().splitlines() == ["goalflow stopped: the API, the worker and the Temporal dev server."]
    engine = make_engine(url)
    with Session(engine) as session:
        assert session.get(Contact, "ada") is not None
    engine.dispose()
