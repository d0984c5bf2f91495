"""The workflow module stays free of I/O: it imports neither the database nor
the settings (SPEC: activities do all I/O)."""

import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit

FORBIDDEN = (
    "shared.store.db",
    "shared.settings",
    "shared.services.events",
    "sqlalchemy",
    "sqlmodel",
    "httpx",
    "psycopg",
)


def test_the_workflow_module_imports_no_database_or_settings() -> None:
    probe = "import sys, worker.enrollment; print(' '.join(sorted(sys.modules)))"
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()
    assert "worker.enrollment" in loaded
    assert [m for m in loaded if m.startswith(FORBIDDEN)] == []
