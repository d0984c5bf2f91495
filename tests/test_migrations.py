"""goalflow's database is managed by migrations (Alembic), on SQLite and PostgreSQL."""

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlmodel import Session, SQLModel, select

from shared.store.db import (
    BEFORE_MIGRATIONS,
    MIGRATIONS,
    Contact,
    EnrollmentRow,
    EventRow,
    HistoryRow,
    make_engine,
)
from tests.conftest import DATABASES, POSTGRES_URL, binary, fresh_engine

pytestmark = pytest.mark.db


def url_for(database: str, tmp_path: Path) -> str:
    if database == "postgres":
        fresh_engine("postgres", str(tmp_path)).dispose()
        with create_engine(POSTGRES_URL).begin() as connection:  # Nothing at all, as in a new database.
            for table in inspect(connection).get_table_names():
                connection.execute(text(f'DROP TABLE "{table}" CASCADE'))
        return POSTGRES_URL
    return f"sqlite:///{tmp_path}/goalflow.db"


@pytest.mark.parametrize("database", DATABASES)
def test_the_migrations_make_exactly_the_models_schema(database: str, tmp_path: Path) -> None:
    engine = make_engine(url_for(database, tmp_path))
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, SQLModel.metadata) == []
    engine.dispose()


ROWS: dict[str, dict[str, Any]] = {
    "contacts": {"id": "ada", "email": "ada@example.com", "attributes": '{"score": 3}', "tags": '["vip"]',
                 "unsubscribed": False, "blocklisted": False, "created_at": "2026-12-01 10:00:00+00:00"},
    "automations": {"id": "nurture", "latest_version": 1, "archived": False,
                    "created_at": "2026-12-01 10:00:00+00:00"},
    "automation_versions": {"automation_id": "nurture", "version": 1,
                            "definition": '{"name": "n", "steps": [{"id": "w", "type": "wait", "duration": "P3D"}]}',
                            "created_at": "2026-12-01 10:00:00+00:00"},
    "enrollments": {"id": "nurture.ada.1", "automation_id": "nurture", "version": 1, "contact_id": "ada",
                    "seq": 1, "status": "running", "enrolled_at": "2026-12-01 10:00:00+00:00"},
    "events": {"id": "ev1", "contact_id": "ada", "type": "custom", "occurred_at": "2026-12-01 11:00:00+00:00",
               "data": '{"name": "visited"}', "received_at": "2026-12-01 11:00:00+00:00",
               "delivered_to": '["nurture.ada.1"]'},
}  # fmt: skip


@pytest.mark.parametrize("database", DATABASES)
def test_a_database_from_before_migrations_is_upgraded_with_every_row(database: str, tmp_path: Path) -> None:
    url = url_for(database, tmp_path)
    old = create_engine(url)
    with old.begin() as connection:  # The schema as `create_all` made it, with rows in it.
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        command.upgrade(config, BEFORE_MIGRATIONS)
        connection.execute(text("DROP TABLE alembic_version"))
        for table, row in ROWS.items():
            columns = ", ".join(f'"{c}"' for c in row)
            connection.execute(
                text(f"INSERT INTO {table} ({columns}) VALUES ({', '.join(':' + c for c in row)})"), row
            )
    old.dispose()

    engine = make_engine(url)  # What the API and the worker do when they start.
    with Session(engine) as session:
        contact = session.get(Contact, "ada")
        assert contact is not None and (contact.attributes, contact.tags) == ({"score": 3}, ["vip"])
        assert session.get(EnrollmentRow, "nurture.ada.1").status == "running"  # type: ignore[union-attr]
        assert session.get(EventRow, "ev1").delivered_to == ["nurture.ada.1"]  # type: ignore[union-attr]
        assert session.exec(select(HistoryRow)).all() == []  # The table the next migration added.
    engine.dispose()


def test_goalflow_db_upgrade_migrates_by_hand(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/by-hand.db"
    done = subprocess.run(
        [binary("goalflow") or "goalflow", "db", "upgrade"],
        env={**os.environ, "GOALFLOW_DATABASE_URL": url},
        capture_output=True,
        text=True,
        check=True,
    )
    newest = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert done.stdout.strip() == f"{url}: at migration {newest}"
    assert "enrollment_history" in inspect(create_engine(url)).get_table_names()
