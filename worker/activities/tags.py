"""`add_tag` and `remove_tag`: the change and its event in one transaction."""

from collections.abc import Callable
from typing import Any

from sqlmodel import Session
from temporalio import activity

from shared.domain.events import Event
from shared.store import contacts
from shared.store.db import EventRow, StepRun
from shared.store.events import from_row
from worker.activities.base import ActivityGroup
from worker.steps.tags import TagInput, TagResult


class TagActivities(ActivityGroup):
    def all(self) -> list[Callable[..., Any]]:
        return [self.change_tag]

    @activity.defn(name="change_tag")
    async def change_tag(self, step: TagInput) -> TagResult:
        """Tag steps are events like any other (G9): stored with the change, then
        signalled to the contact's other enrollments and returned to the one
        running the step, which applies it at once: a signal to itself would
        arrive while its workflow task is open. A retry returns the first run's
        answer and delivers whatever that run stored but did not deliver."""
        event_id = f"{step.key}/0"  # A tag step changes one tag: one event at most.
        retried: list[TagResult] = []

        def change(session: Session) -> list[Event]:
            run = session.get(StepRun, step.key)
            if run is not None:
                row = session.get(EventRow, event_id)
                events = [from_row(row)] if row else []
                retried.append(TagResult(changed=run.result["changed"], events=events))
                return []
            tags = {step.tag}
            events = contacts.change_tags(
                session,
                step.contact_id,
                event_id=step.key,
                add=tags if step.add else set(),
                remove=set() if step.add else tags,
            )
            session.add(StepRun(key=step.key, result={"changed": bool(events)}))
            return events

        bus = self.deps.bus
        events = await bus.commit_and_deliver(change, skip=step.enrollment_id)
        if retried:
            await bus.finish_delivery([event_id], skip=step.enrollment_id)
            return retried[0]
        return TagResult(changed=bool(events), events=events)
