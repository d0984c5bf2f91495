"""`add_to_list` and `remove_from_list`: the membership change and its event
in one transaction, as a tag step's (`worker.activities.tags`)."""

from collections.abc import Callable
from typing import Any

from sqlmodel import Session
from temporalio import activity
from temporalio.exceptions import ApplicationError

from shared.domain.errors import NotFound
from shared.domain.events import Event
from shared.store import lists
from shared.store.db import EventRow, StepRun
from shared.store.events import from_row
from worker.activities.base import ActivityGroup
from worker.steps.lists import ListInput, ListResult


class ListActivities(ActivityGroup):
    def all(self) -> list[Callable[..., Any]]:
        return [self.change_list]

    @activity.defn(name="change_list")
    async def change_list(self, step: ListInput) -> ListResult:
        """Stored with its event, which goes as a signal to the contact's other
        enrollments (and fires triggers) and back to the one running the step in
        the result. A retry returns the first run's answer and delivers whatever
        that run stored but did not deliver. A list that does not exist fails
        the step (it may be made after the definition was saved)."""
        event_id = f"{step.key}/0"  # One membership changes: one event at most.
        retried: list[ListResult] = []

        def change(session: Session) -> list[Event]:
            run = session.get(StepRun, step.key)
            if run is not None:
                row = session.get(EventRow, event_id)
                retried.append(
                    ListResult(changed=run.result["changed"], events=[from_row(row)] if row else [])
                )
                return []
            membership = lists.join if step.join else lists.leave
            events = membership(session, step.list_id, step.contact_id, event_id)
            session.add(StepRun(key=step.key, result={"changed": bool(events)}))
            return events

        bus = self.deps.bus
        try:
            events = await bus.commit_and_deliver(change, skip=step.enrollment_id)
        except NotFound as error:
            raise ApplicationError(
                f"no list '{step.list_id}'" if error.what == "list" else str(error), non_retryable=True
            ) from None
        if retried:
            await bus.finish_delivery([event_id], skip=step.enrollment_id)
            return retried[0]
        return ListResult(changed=bool(events), events=events)
