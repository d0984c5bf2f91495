"""`create_deal` and `update_deal`, once per step run: the deal a run made is
found by its key, and a stage change's event is stored with the change (its id
from the key) and delivered as a tag step's is."""

from collections.abc import Callable
from typing import Any

from sqlmodel import Session
from temporalio import activity

from shared.domain.events import Event, signalled
from shared.domain.ids import new_id
from shared.store import deals
from shared.store.db import Contact, Deal, EventRow, StepRun, User
from shared.store.events import from_row
from worker.activities.crm import NO_CONTACT, CrmActivities, no_user, rendered, skipped
from worker.steps.create_deal import DealInput
from worker.steps.crm import CrmResult
from worker.steps.update_deal import StageInput


def made(deal: Deal) -> CrmResult:
    return CrmResult(outcome="done", detail={"deal_id": deal.id, "name": deal.name})


class DealActivities(CrmActivities):
    def all(self) -> list[Callable[..., Any]]:
        return [self.create_deal, self.update_deal]

    @activity.defn(name="create_deal")
    async def create_deal(self, step: DealInput) -> CrmResult:
        def create(session: Session) -> CrmResult:
            deal = deals.made_by(session, step.key)
            if deal is not None:  # A retry: the first run's deal.
                return made(deal)
            contact = session.get(Contact, step.contact_id)
            if contact is None:
                return skipped(NO_CONTACT)
            if step.owner is not None and session.get(User, step.owner) is None:
                raise no_user(step.owner)
            name = rendered(self.template(step, step.digest, "name"), contact, "name")
            if isinstance(name, CrmResult):
                return name
            fields = {
                **step.model_dump(include={"contact_id", "pipeline", "stage", "amount", "owner"}),
                "id": new_id("deal"),
                "name": name,
                "enrollment_id": step.enrollment_id,
                "step_key": step.key,
            }
            deal = deals.create_deal(session, fields)
            session.commit()
            return made(deal)

        return await self.db(create)

    @activity.defn(name="update_deal")
    async def update_deal(self, step: StageInput) -> CrmResult:
        """A new stage is an event (one at most: its id is the key's), returned to
        the enrollment running the step and signalled to the contact's others. A
        retry answers as the first run did, delivering what it left undelivered."""
        event_id = f"{step.key}/0"
        results: list[CrmResult] = []
        retried: list[bool] = []

        def change(session: Session) -> list[Event]:
            run = session.get(StepRun, step.key)
            if run is not None:
                row = session.get(EventRow, event_id)
                events = [signalled(from_row(row))] if row else []
                results.append(CrmResult(**run.result, events=events))
                retried.append(True)
                return []
            result, events = _move(session, step, event_id)
            session.add(StepRun(key=step.key, result=result.model_dump(include={"outcome", "detail"})))
            results.append(result.model_copy(update={"events": [signalled(e) for e in events]}))
            return events

        bus = self.deps.bus
        await bus.commit_and_deliver(change, skip=step.enrollment_id)
        if retried:
            await bus.finish_delivery([event_id], skip=step.enrollment_id)
        return results[0]


def _move(session: Session, step: StageInput, event_id: str) -> tuple[CrmResult, list[Event]]:
    deal = deals.latest_of(session, step.enrollment_id)
    if deal is None:
        return skipped("this enrollment created no deal (no create_deal step ran before)"), []
    if deal.stage == step.stage:
        return skipped(f"deal '{deal.id}' is at stage '{step.stage}' already"), []
    old = deal.stage
    deal, events = deals.update_deal(session, deal.id, {"stage": step.stage}, event_id=event_id)
    return CrmResult(outcome="done", detail={"deal_id": deal.id, "from": old, "to": step.stage}), events
