"""`record_conversion`: the conversion and its `conversion` event in one
transaction, once per step run (the row's key is the step run's)."""

from collections.abc import Callable
from typing import Any

from sqlmodel import Session
from temporalio import activity

from shared.domain.events import Event
from shared.store import conversions
from shared.store.db import EventRow
from shared.store.events import from_row
from worker.activities.base import ActivityGroup
from worker.steps.record_conversion import ConversionInput, ConversionResult


class ConversionActivities(ActivityGroup):
    def all(self) -> list[Callable[..., Any]]:
        return [self.record_conversion]

    @activity.defn(name="record_conversion")
    async def record_conversion(self, step: ConversionInput) -> ConversionResult:
        """Its event goes as a signal to the contact's other enrollments and back
        to the one running the step in the result, as a tag step's does. A retry
        records nothing, returns the first run's event and delivers it if that
        run stored it but did not."""
        event_id = f"{step.key}/0"
        retried: list[ConversionResult] = []

        def record(session: Session) -> list[Event]:
            fields = step.model_dump(exclude={"key"})
            events = conversions.record(session, step.key, **fields)
            if not events:
                row = session.get(EventRow, event_id)
                retried.append(ConversionResult(events=[from_row(row)] if row else []))
            return events

        bus = self.deps.bus
        events = await bus.commit_and_deliver(record, skip=step.enrollment_id)
        if retried:
            await bus.finish_delivery([event_id], skip=step.enrollment_id)
            return retried[0]
        return ConversionResult(events=events)
