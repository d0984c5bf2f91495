"""Events in: stored first, then signalled to every running enrollment of the
contact that started at or before the event occurred (SPEC §4).

An event row keeps `delivered_to` empty until every signal went out, so a
forwarder's retry with the same id, or the sweep at start-up, delivers what a
crash left undelivered. Enrollments drop the ids they already saw (G10), so a
second delivery is harmless. An enrollment whose workflow has not started yet
when its event is signalled catches up on start (see `enrollments.register`).

The triggers an event fires are recorded in its transaction, and fired once it
is delivered (`fire`, `shared.services.triggers`); what a crash left pending is
fired by a retry of the same id or by the sweep.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from shared.contracts import EVENT_SIGNAL
from shared.domain.events import Event, signalled
from shared.store.contacts import apply_event, get_contact
from shared.store.db import EnrollmentRow, EventRow, in_session, run_db, utcnow
from shared.store.events import from_row, to_row
from shared.store.triggers import record_firings

log = logging.getLogger("goalflow.events")


class Accepted(BaseModel):
    event_id: str
    # The enrollments it was signalled to.
    delivered_to: list[str]


class EventBus:
    def __init__(
        self, engine: Engine, client: Client, fire: Callable[[list[str]], Awaitable[int]] | None = None
    ):
        self.engine = engine
        self.client = client
        # Evaluates the trigger firings of these events; without it, the sweep does.
        self.fire = fire

    async def post(self, event: Event) -> tuple[Accepted, bool]:
        """An event from outside, about a contact that must exist: stored and
        delivered (`publish`). Also says whether it was new."""
        await in_session(self.engine, lambda s: get_contact(s, event.contact_id))
        new, delivered_to = await self.publish(event)
        return Accepted(event_id=event.id, delivered_to=delivered_to), new

    async def publish(self, event: Event) -> tuple[bool, list[str]]:
        """Store and deliver `event`. Returns whether it was new, and the
        enrollments it reached. A known id is delivered again only if its first
        delivery never finished."""
        new, stored, targets, fired = await run_db(self.engine, lambda: self._store(event))
        delivered = stored.delivered_to
        if delivered is None:
            delivered = await self.deliver(from_row(stored), targets)
        if fired or not new:  # A retry fires what a crash left pending.
            await self._fire([event.id])
        return new, delivered

    async def commit_and_deliver(
        self, change: Callable[[Session], list[Event]], skip: str | None = None
    ) -> list[Event]:
        """Run `change` and store the events it returns in one transaction, then
        deliver them, except to enrollment `skip`: a contact change and its
        events are never half-saved."""

        def commit() -> tuple[list[tuple[Event, list[str]]], list[str]]:
            with Session(self.engine, expire_on_commit=False) as session:
                events = change(session)
                session.add_all(to_row(e) for e in events)
                fired = [e.id for e in events if record_firings(session, e)]
                session.commit()
                return [(e, self._targets(session, e)) for e in events], fired

        stored, fired = await run_db(self.engine, commit)
        for event, targets in stored:
            await self.deliver(event, targets, skip)
        if fired:
            await self._fire(fired)
        return [event for event, _ in stored]

    async def deliver(
        self, event: Event, targets: list[str] | None = None, skip: str | None = None
    ) -> list[str]:
        """Signal `event` to `targets` but `skip`; by default to the running
        enrollments that started at or before it, looked up after the event was
        committed."""
        if targets is None:
            targets = await run_db(self.engine, lambda: self._running_enrollments(event))
        targets = [t for t in targets if t != skip]
        reached = await asyncio.gather(*(self._signal(t, event) for t in targets))
        delivered = [t for t, ok in zip(targets, reached, strict=True) if ok]
        await run_db(self.engine, lambda: self._mark_delivered(event.id, delivered))
        return delivered

    async def redeliver_pending(self, older_than: timedelta = timedelta(0)) -> int:
        """Deliver the events whose delivery a crash interrupted; returns how many."""
        cutoff = utcnow() - older_than
        return await self._deliver_undelivered(EventRow.received_at <= cutoff)

    async def finish_delivery(self, event_ids: list[str], skip: str | None = None) -> int:
        """Deliver those of `event_ids` whose first delivery did not finish,
        except to enrollment `skip`, and fire the triggers they left pending."""
        count = await self._deliver_undelivered(col(EventRow.id).in_(event_ids), skip)
        await self._fire(event_ids)
        return count

    async def _fire(self, event_ids: list[str]) -> None:
        if self.fire is None:
            return
        try:
            await self.fire(event_ids)
        except Exception:
            # Stored, and delivered: the sweep fires what is left.
            log.exception("the triggers of events %s were left to the sweep", event_ids)

    async def _deliver_undelivered(self, where: Any, skip: str | None = None) -> int:
        def undelivered() -> list[EventRow]:
            with Session(self.engine) as session:
                query = select(EventRow).where(col(EventRow.delivered_to).is_(None), where)
                return list(session.exec(query.order_by(EventRow.received_at)))

        rows = await run_db(self.engine, undelivered)
        for row in rows:
            await self.deliver(from_row(row), skip=skip)
        return len(rows)

    def _store(self, event: Event) -> tuple[bool, EventRow, list[str] | None, int]:
        """Store a new event, with what it changes and the triggers it fires,
        and find its targets in the same database session."""
        with Session(self.engine, expire_on_commit=False) as session:
            existing = session.get(EventRow, event.id)
            if existing is not None:
                return False, existing, None, 0
            row = to_row(event)
            session.add(row)
            apply_event(session, event)
            fired = record_firings(session, event)
            try:
                session.commit()
            except IntegrityError:
                session.rollback()  # The same id raced in from another request.
                return False, session.get(EventRow, event.id), None, 0  # type: ignore[return-value]
            return True, row, self._targets(session, event), fired

    def _running_enrollments(self, event: Event) -> list[str]:
        with Session(self.engine) as session:
            return self._targets(session, event)

    @staticmethod
    def _targets(session: Session, event: Event) -> list[str]:
        query = select(EnrollmentRow.id).where(
            EnrollmentRow.contact_id == event.contact_id,
            EnrollmentRow.status == "running",
            EnrollmentRow.enrolled_at <= event.occurred_at,
        )
        return sorted(session.exec(query))

    def _mark_delivered(self, event_id: str, delivered: list[str]) -> None:
        with Session(self.engine) as session:
            session.exec(update(EventRow).where(col(EventRow.id) == event_id).values(delivered_to=delivered))  # type: ignore[call-overload]
            session.commit()

    async def _signal(self, enrollment_id: str, event: Event) -> bool:
        try:
            await self.client.get_workflow_handle(enrollment_id).signal(EVENT_SIGNAL, signalled(event))
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                # Finished, or not started yet (it will catch up on start).
                return False
            raise
        return True
