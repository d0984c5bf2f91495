"""`assign_user`: the contact's owner, once per step run (a retry answers the
first run's user). A round robin's turn and the assignment commit together."""

from collections.abc import Callable
from typing import Any

from sqlmodel import Session
from temporalio import activity

from shared.store import users
from shared.store.db import Contact, StepRun
from worker.activities.base import ActivityGroup
from worker.activities.crm import NO_CONTACT, no_user, skipped
from worker.steps.assign_user import AssignInput
from worker.steps.crm import CrmResult


class OwnerActivities(ActivityGroup):
    def all(self) -> list[Callable[..., Any]]:
        return [self.assign_user]

    @activity.defn(name="assign_user")
    async def assign_user(self, step: AssignInput) -> CrmResult:
        return await self.db(lambda s: _assign(s, step))


def _assign(session: Session, step: AssignInput) -> CrmResult:
    done = session.get(StepRun, step.key)
    if done is not None:
        return CrmResult(**done.result)
    if session.get(Contact, step.contact_id) is None:
        return skipped(NO_CONTACT)
    # Every user named must exist, or no turn is taken: a rotation with a hole
    # would fail one contact in every round.
    missing = users.missing(session, step.users)
    if missing:
        raise no_user(missing[0])
    user = step.users[0]
    if len(step.users) > 1:
        turn = users.take_turn(session, step.automation_id, step.version, step.step_id)
        user = step.users[turn % len(step.users)]
    previous = users.set_owner(session, step.contact_id, user)
    result = CrmResult(outcome="done", detail={"user": user, "previous": previous})
    session.add(StepRun(key=step.key, result=result.model_dump(include={"outcome", "detail"})))
    session.commit()
    return result
