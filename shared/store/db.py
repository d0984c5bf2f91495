"""Database tables and the engine. SQLite is the embedded default; PostgreSQL
works through the same models (`GOALFLOW_DATABASE_URL=postgresql+psycopg://…`)."""

import asyncio
import itertools
import os
import queue
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import JSON, Column, DateTime, TypeDecorator, UniqueConstraint, event, false, inspect, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Field, Session, SQLModel, create_engine

from shared.settings import settings

T = TypeVar("T")


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything here is UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


class UtcDateTime(TypeDecorator[datetime]):
    """Times in UTC going in and coming out, whatever the database keeps."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else as_utc(value).astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else as_utc(value)


def _time(**kwargs: Any) -> Any:
    return Field(sa_column=Column(UtcDateTime(), **kwargs))


def _json(default_factory: Any = None, **kwargs: Any) -> Any:
    if default_factory is None:
        return Field(default=None, sa_column=Column(JSON(none_as_null=True), **kwargs))
    return Field(default_factory=default_factory, sa_column=Column(JSON(none_as_null=True), **kwargs))


class Contact(SQLModel, table=True):
    __tablename__ = "contacts"
    id: str = Field(primary_key=True)
    email: str | None = None
    # E.164; inbound SMS and WhatsApp messages find their contact by it.
    phone: str | None = Field(default=None, index=True)
    first_name: str | None = None
    last_name: str | None = None
    timezone: str | None = None
    attributes: dict[str, Any] = _json(dict, nullable=False)
    tags: list[str] = _json(list, nullable=False)
    # Email is not `subscribed` (kept with `consent`, which says why).
    unsubscribed: bool = False
    blocklisted: bool = False
    created_at: datetime = _time(nullable=False)
    # Per channel: email subscribed | unsubscribed | bounced | complained; sms and
    # whatsapp subscribed | unsubscribed. A channel not named is subscribed.
    consent: dict[str, str] = _json(dict, nullable=False, server_default="{}")
    # The user who owns the contact (an `assign_user` step's choice).
    owner: str | None = None


class AutomationRow(SQLModel, table=True):
    __tablename__ = "automations"
    id: str = Field(primary_key=True)
    latest_version: int
    archived: bool = False
    created_at: datetime = _time(nullable=False)
    # Paused: no new entries, sends to contacts held (shared/services/pauses.py).
    paused: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    # How many times it was paused: the number of the current pause, or of the last one.
    pauses: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # What the last resume said: sends held longer than this are skipped as stale.
    stale_after_seconds: int | None = None


class AutomationVersion(SQLModel, table=True):
    __tablename__ = "automation_versions"
    automation_id: str = Field(primary_key=True, foreign_key="automations.id")
    version: int = Field(primary_key=True)
    definition: dict[str, Any] = _json(nullable=False)
    created_at: datetime = _time(nullable=False)


class EnrollmentRow(SQLModel, table=True):
    __tablename__ = "enrollments"
    __table_args__ = (UniqueConstraint("automation_id", "contact_id", "seq"),)
    # Also the Temporal workflow id.
    id: str = Field(primary_key=True)
    automation_id: str = Field(index=True)
    version: int
    contact_id: str = Field(index=True)
    # The contact's n-th enrollment in this automation.
    seq: int
    status: str = Field(default="running", index=True)
    end_reason: str | None = None
    enrolled_at: datetime = _time(nullable=False)
    ended_at: datetime | None = _time(nullable=True)
    # The final state, kept so a finished enrollment reads without Temporal.
    final_state: dict[str, Any] | None = _json(nullable=True)
    # What started it (`shared.contracts.EnteredBy`); NULL for rows from before: the API.
    entered_by: dict[str, Any] | None = _json(nullable=True)


class EventRow(SQLModel, table=True):
    __tablename__ = "events"
    id: str = Field(primary_key=True)
    contact_id: str = Field(index=True)
    type: str
    occurred_at: datetime = _time(nullable=False, index=True)
    data: dict[str, Any] = _json(dict, nullable=False)
    # Indexed: bulk enrollments read how many events came in lately (live traffic).
    received_at: datetime = _time(nullable=False, index=True)
    # Enrollment ids it was delivered to; NULL until every one was signalled,
    # so a retry (or the sweep) knows to deliver again.
    delivered_to: list[str] | None = _json(nullable=True)


class HeldSend(SQLModel, table=True):
    """An enrollment whose send the automation's pause holds, until the resume
    has been signalled to it: what resuming, and the worker's sweep after a
    crash, find to release."""

    __tablename__ = "held_sends"
    # An enrollment holds one send at a time.
    enrollment_id: str = Field(primary_key=True)
    automation_id: str = Field(index=True)
    step_id: str
    # The automation's pause that holds it (`AutomationRow.pauses`).
    pause: int
    held_at: datetime = _time(nullable=False)


class HistoryRow(SQLModel, table=True):
    """An enrollment's step history entries that its earlier runs handed over
    when they continued as new (the workflow carries only what came after)."""

    __tablename__ = "enrollment_history"
    enrollment_id: str = Field(primary_key=True)
    n: int = Field(primary_key=True)
    step_id: str
    outcome: str
    at: datetime = _time(nullable=False)
    detail: dict[str, Any] = _json(dict, nullable=False)


class Message(SQLModel, table=True):
    __tablename__ = "messages"
    message_id: str = Field(primary_key=True)
    # One message per step run: a retried send finds the first one.
    idempotency_key: str = Field(unique=True)
    enrollment_id: str = Field(index=True)
    step_id: str
    contact_id: str = Field(index=True)
    # email | sms | whatsapp | internal (a notify step's, to the team: not the contact's)
    channel: str = "email"
    # An email address (internal: several), or a phone number (E.164).
    to: str | None = None
    sender: str | None = None
    # Empty for SMS and WhatsApp.
    subject: str
    # A WhatsApp template message's is its variables, as JSON.
    body: str
    html: str | None = None
    # `sending` until the transport accepts the message (`sent`) or refuses it for good (`refused`).
    status: str = Field(default="sent", sa_column_kwargs={"server_default": "sent"})
    created_at: datetime = _time(nullable=False)
    # The content SID of the WhatsApp template it was sent as.
    template: str | None = None
    # Twilio's SID of the message, once Twilio took it.
    provider_id: str | None = Field(default=None, index=True)


class Link(SQLModel, table=True):
    """A trigger link: a URL whose clicks, through goalflow's tracked URL, are events."""

    __tablename__ = "links"
    id: str = Field(primary_key=True)
    name: str
    url: str
    created_at: datetime = _time(nullable=False)


class Sender(SQLModel, table=True):
    """Who messages come from, and how many of them may go out per UTC day."""

    __tablename__ = "senders"
    # An email address, or the phone number (E.164) SMS and WhatsApp messages come from.
    address: str = Field(primary_key=True)
    name: str | None = None
    daily_limit: int | None = None
    created_at: datetime = _time(nullable=False)


class SenderDay(SQLModel, table=True):
    """Messages a sender sent on a UTC day: the daily limit's count."""

    __tablename__ = "sender_days"
    sender: str = Field(primary_key=True)
    day: str = Field(primary_key=True)
    sent: int = 0


class InboundMessage(SQLModel, table=True):
    """A message a contact sent to one of our Twilio numbers: its WhatsApp ones
    open WhatsApp's 24-hour window for free text to that number."""

    __tablename__ = "inbound_messages"
    # Twilio's: a retried webhook finds it.
    sid: str = Field(primary_key=True)
    channel: str
    number: str = Field(index=True)
    received_at: datetime = _time(nullable=False)


class StepRun(SQLModel, table=True):
    """The result of a step run whose effect is not idempotent by itself (an
    increment), keyed by its idempotency key."""

    __tablename__ = "step_runs"
    key: str = Field(primary_key=True)
    result: dict[str, Any] = _json(nullable=False)


class ApiKey(SQLModel, table=True):
    """A key to the API: stored as its SHA-256 (a key is 32 random bytes, so no
    slow hash is needed), shown once when it is made."""

    __tablename__ = "api_keys"
    id: str = Field(primary_key=True)
    name: str | None = None
    # admin | events | read
    scope: str
    hash: str = Field(unique=True)
    created_at: datetime = _time(nullable=False)
    revoked_at: datetime | None = _time(nullable=True)


class IgnoredWebhook(SQLModel, table=True):
    """A provider's event about no message goalflow knows: acknowledged, kept here
    for whoever wonders, and never an event (the provider would retry an error forever)."""

    __tablename__ = "ignored_webhooks"
    # The event id it would have had.
    id: str = Field(primary_key=True)
    provider: str
    type: str
    reason: str
    # What it named: goalflow's message id and the RFC Message-IDs.
    detail: dict[str, Any] = _json(dict, nullable=False)
    received_at: datetime = _time(nullable=False)


class ContactList(SQLModel, table=True):
    __tablename__ = "lists"
    id: str = Field(primary_key=True)
    name: str
    created_at: datetime = _time(nullable=False)


class ListMember(SQLModel, table=True):
    __tablename__ = "list_members"
    list_id: str = Field(primary_key=True, foreign_key="lists.id")
    # Members are paged by contact id (the primary key's order).
    contact_id: str = Field(primary_key=True, index=True)
    joined_at: datetime = _time(nullable=False)


class TriggerIndex(SQLModel, table=True):
    """Which versions have a trigger that an event type may fire, written when the
    version is saved: storing an event looks here, not at every definition."""

    __tablename__ = "automation_triggers"
    automation_id: str = Field(primary_key=True)
    version: int = Field(primary_key=True)
    event_type: str = Field(primary_key=True, index=True)


class TriggerFiring(SQLModel, table=True):
    """An event that fired an automation's trigger for its contact: written with
    the event, in its transaction. Its key is what lets each (automation, event,
    contact) start one enrollment at most, whatever retries and sweeps happen."""

    __tablename__ = "trigger_firings"
    automation_id: str = Field(primary_key=True)
    event_id: str = Field(primary_key=True)
    contact_id: str = Field(primary_key=True)
    # The version current when the event was stored, and which of its triggers fired.
    version: int
    trigger: int
    # pending until evaluated: enrolled | skipped (the reason says why).
    status: str = Field(default="pending", index=True)
    reason: str | None = None
    enrollment_id: str | None = None
    created_at: datetime = _time(nullable=False)
    # Who evaluates it holds it until then; a claim older than a lease is a crash's.
    claimed_at: datetime | None = _time(nullable=True)
    fired_at: datetime | None = _time(nullable=True)


class BulkEnrollmentRow(SQLModel, table=True):
    """A bulk enrollment: whom it reads (`source`), where it is (`cursor`: the
    last contact id of the last page it finished) and what it came to. The
    cursor and the counts move together, one commit per page."""

    __tablename__ = "bulk_enrollments"
    id: str = Field(primary_key=True)
    automation_id: str = Field(index=True)
    # The version current when it was created: every contact enters that one.
    version: int
    # {"contact_ids": [...]} | {"list": id} | {"segment": {...}}
    source: dict[str, Any] = _json(nullable=False)
    # Contacts per second at most; None: as fast as it goes.
    rate: float | None = None
    # running | paused | completed | cancelled | failed
    status: str = "running"
    cursor: str | None = None
    matched: int = 0
    enrolled: int = 0
    skipped: dict[str, int] = _json(dict, nullable=False)
    failed: int = 0
    started_at: datetime = _time(nullable=False)
    finished_at: datetime | None = _time(nullable=True)


class Conversion(SQLModel, table=True):
    """A conversion a `record_conversion` step recorded, attributed to its
    automation, version and step, and to the last message the enrollment sent
    before it. Keyed by the step run: a retried activity records it once."""

    __tablename__ = "conversions"
    key: str = Field(primary_key=True)
    automation_id: str = Field(index=True)
    version: int
    step_id: str
    enrollment_id: str
    contact_id: str
    name: str
    value: float | None = None
    currency: str | None = None
    message_id: str | None = None
    # Its `conversion` event, stored in the same transaction.
    event_id: str
    occurred_at: datetime = _time(nullable=False)


class Appointment(SQLModel, table=True):
    __tablename__ = "appointments"
    id: str = Field(primary_key=True)
    contact_id: str = Field(index=True)
    calendar_id: str
    status: str
    updated_at: datetime = _time(nullable=False)


class User(SQLModel, table=True):
    """Someone on the team: deals and contacts are theirs, tasks are for them."""

    __tablename__ = "users"
    id: str = Field(primary_key=True)
    name: str
    email: str
    created_at: datetime = _time(nullable=False)


class Deal(SQLModel, table=True):
    __tablename__ = "deals"
    id: str = Field(primary_key=True)
    contact_id: str = Field(index=True)
    name: str
    pipeline: str
    stage: str
    amount: float | None = None
    # A user id.
    owner: str | None = None
    # The enrollment whose `create_deal` step made it (its `update_deal` steps
    # move it), and that step run's key, which a retry finds it by.
    enrollment_id: str | None = Field(default=None, index=True)
    step_key: str | None = Field(default=None, unique=True)
    created_at: datetime = _time(nullable=False)
    updated_at: datetime = _time(nullable=False)


class Task(SQLModel, table=True):
    __tablename__ = "tasks"
    id: str = Field(primary_key=True)
    contact_id: str = Field(index=True)
    title: str
    due_at: datetime | None = _time(nullable=True)
    # A user id.
    assignee: str | None = None
    # open | done
    status: str = "open"
    # As for deals: the enrollment and step run that made it.
    enrollment_id: str | None = None
    step_key: str | None = Field(default=None, unique=True)
    created_at: datetime = _time(nullable=False)
    completed_at: datetime | None = _time(nullable=True)


class Rotation(SQLModel, table=True):
    """A round-robin `assign_user` step's count of turns taken, per automation
    version and step: moved by one statement per turn, so concurrent turns
    each get their own (the row's lock on PostgreSQL, SQLite's one writer)."""

    __tablename__ = "rotations"
    automation_id: str = Field(primary_key=True)
    version: int = Field(primary_key=True)
    step_id: str = Field(primary_key=True)
    turns: int = 0


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    # WAL lets readers run beside the writer; FULL keeps every commit across a power loss.
    for attempt in range(300):
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as error:
            # Switching a new file to WAL needs it alone, and SQLite answers "locked"
            # at once instead of waiting while another process creates the tables.
            if "locked" not in str(error) or attempt == 299:
                raise
            time.sleep(0.1)
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)
    migrate(engine)
    return engine


MIGRATIONS = Path(__file__).parent / "migrations"
# Where a database stands that `create_all` made, before there were migrations.
BEFORE_MIGRATIONS = "0001"


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration, one process at a time: the
    API and the worker start together, and each migrates on start."""
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(7215)"))
        else:
            # SQLite's DDL is transactional: a write lock taken first serializes the check.
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        tables = inspect(connection).get_table_names()
        if "contacts" in tables and "alembic_version" not in tables:
            command.stamp(config, BEFORE_MIGRATIONS)
        command.upgrade(config, "head")
        connection.commit()


def insert_new(session: Session, table: type[SQLModel], **values: Any) -> bool:
    """Insert a row unless one with the same key (or unique column) exists;
    True when this call inserted it. One statement, no ORM round trip: it is
    on every enrollment's path."""
    statement = _insert_new_statement(session.get_bind().dialect.name, table)
    return session.connection().execute(statement, values).first() is not None


@cache
def _insert_new_statement(dialect_name: str, table: type[SQLModel]) -> Any:
    # Built once per table, on the Core table: building the statement and the
    # ORM's bulk-insert path each cost more than the insert itself. The row it
    # returns says it inserted: SQLAlchemy 2.1's psycopg dialect answers a
    # rowcount of -1 to such an insert, inserted or not.
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    core = table.__table__  # type: ignore[attr-defined]
    return dialect.insert(core).on_conflict_do_nothing().returning(*core.primary_key.columns)


def _STOP() -> None:
    """Ends a database thread: its engine is gone."""


class _DatabaseThread:
    """One thread that runs a process's SQLite work in turn, urgent work first."""

    def __init__(self) -> None:
        self.queue: queue.PriorityQueue[tuple[int, int, Callable[[], Any], Future[Any]]] = (
            queue.PriorityQueue()
        )
        self.order = itertools.count()
        threading.Thread(target=self._serve, name="sqlite", daemon=True).start()

    def submit(self, work: Callable[[], T], urgent: bool) -> "Future[T]":
        done: Future[T] = Future()
        self.queue.put((0 if urgent else 1, next(self.order), work, done))
        return done

    def stop(self) -> None:
        self.queue.put((2, next(self.order), _STOP, Future()))

    def _serve(self) -> None:
        while True:
            _, _, work, done = self.queue.get()
            if work is _STOP:
                return
            if done.set_running_or_notify_cancel():
                try:
                    done.set_result(work())
                except BaseException as error:
                    done.set_exception(error)


_sqlite_threads: "weakref.WeakKeyDictionary[Engine, _DatabaseThread]" = weakref.WeakKeyDictionary()


async def run_db(engine: Engine, work: Callable[[], T], urgent: bool = False) -> T:
    """Run blocking database work off the event loop.

    SQLite takes one writer at a time, and a writer that finds it busy sleeps and
    tries again after 1, 2, 5, 10 … ms: with 20 requests in flight those naps were
    most of the API's time (py-spy, bench.goal_latency). A process's SQLite work
    queues on one thread instead, where it waits only as long as the work before
    it takes; `urgent` work goes ahead of the queue. PostgreSQL work runs on the
    default pool."""
    if engine.dialect.name != "sqlite":
        return await asyncio.get_running_loop().run_in_executor(None, work)
    thread = _sqlite_threads.get(engine)
    if thread is None:
        thread = _sqlite_threads[engine] = _DatabaseThread()
        weakref.finalize(engine, thread.stop)
    return await asyncio.wrap_future(thread.submit(work, urgent))


async def in_session(engine: Engine, work: Callable[[Session], T]) -> T:
    """`work` in a session of its own, off the event loop (see `run_db`)."""

    def run() -> T:
        with Session(engine, expire_on_commit=False) as session:
            return work(session)

    return await run_db(engine, run)


@cache
def engine() -> Engine:
    return make_engine(settings().database_url)


@contextmanager
def session() -> Iterator[Session]:
    with Session(engine(), expire_on_commit=False) as s:
        yield s
