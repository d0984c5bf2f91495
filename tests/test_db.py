"""The database layer where processes meet: the API and the worker start
together on a database neither has created yet."""

import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import inspect, update
from sqlmodel import Session, col, select

from shared.store import pauses
from shared.store.db import AutomationRow, HeldSend, SenderDay, insert_new, make_engine, utcnow
from tests.conftest import DATABASES, fresh_engine

pytestmark = pytest.mark.db

# Each process imports first, then creates the tables at the same instant as the others.
CREATE = """
import sys, time
from shared.store.db import make_engine
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
make_engine(sys.argv[1])
"""


def test_processes_starting_together_on_a_new_database_all_come_up(tmp_path: Path) -> None:
    for attempt in range(3):
        url = f"sqlite:///{tmp_path}/fresh-{attempt}.db"
        at = str(time.time() + 2)
        starting = [
            subprocess.Popen([sys.executable, "-c", CREATE, url, at], stderr=subprocess.PIPE)
            for _ in range(4)
        ]
        failures = [p.communicate()[1].decode()[-400:] for p in starting if p.wait() != 0]
        assert failures == []
        assert {"contacts", "enrollments", "events", "messages"} <= set(
            inspect(make_engine(url)).get_table_names()
        )


@pytest.mark.parametrize("database", DATABASES)
def test_insert_new_says_whether_it_inserted_the_row(database: str, tmp_path: Path) -> None:
    """What makes a retried write (a step run's message, a webhook Twilio sends
    again) count once: the second insert of a key inserts nothing and says so."""
    engine = fresh_engine(database, str(tmp_path))
    with Session(engine) as session:
        day = {"sender": "+14155550100", "day": "2026-12-01"}
        assert insert_new(session, SenderDay, **day, sent=0)
        assert not insert_new(session, SenderDay, **day, sent=5)
        session.commit()
        assert session.exec(select(SenderDay.sent)).all() == [0]
    engine.dispose()


@pytest.mark.parametrize("database", DATABASES)
def test_a_send_held_as_a_resume_commits_waits_for_it_then_goes_out(database: str, tmp_path: Path) -> None:
    """The race between a send activity that found its automation paused and a
    resume (shared.store.pauses): the send's hold waits for a resume under way
    and then finds it resumed, so it is never recorded after the resume
    listed the held sends. Held before the resume, it is on that list."""
    engine = fresh_engine(database, str(tmp_path))
    with Session(engine) as session:
        session.add(AutomationRow(id="au", latest_version=1, created_at=utcnow()))
        session.commit()
        pauses.pause(session, "au")

    def hold() -> int | None:
        with Session(engine) as session:
            return pauses.hold_if_paused(session, "au", "au.ct.1", "offer")

    with ThreadPoolExecutor(1) as pool, engine.connect() as resuming:
        resuming.execute(update(AutomationRow).where(col(AutomationRow.id) == "au").values(paused=False))
        holding = pool.submit(hold)
        time.sleep(1)  # Long enough for the hold to reach the lock, usually; never too short to fail.
        assert not holding.done()
        resuming.commit()
        assert holding.result(timeout=60) is None
    with Session(engine) as session:
        assert session.exec(select(HeldSend)).all() == []
        pauses.pause(session, "au")
        assert hold() == 2
        pauses.resume(session, "au", None)
        assert [r.enrollment_id for r in pauses.releasable(session)] == ["au.ct.1"]
    engine.dispose()
