"""`create_task`, once per step run: the task a run made is found by its key."""

from collections.abc import Callable
from typing import Any

from sqlmodel import Session
from temporalio import activity

from shared.domain.ids import new_id
from shared.store import tasks
from shared.store.db import Contact, Task, User
from worker.activities.crm import NO_CONTACT, CrmActivities, no_user, rendered, skipped
from worker.steps.create_task import TaskInput
from worker.steps.crm import CrmResult


def made(task: Task) -> CrmResult:
    return CrmResult(outcome="done", detail={"task_id": task.id, "assignee": task.assignee})


class TaskActivities(CrmActivities):
    def all(self) -> list[Callable[..., Any]]:
        return [self.create_task]

    @activity.defn(name="create_task")
    async def create_task(self, step: TaskInput) -> CrmResult:
        def create(session: Session) -> CrmResult:
            task = tasks.made_by(session, step.key)
            if task is not None:  # A retry: the first run's task.
                return made(task)
            contact = session.get(Contact, step.contact_id)
            if contact is None:
                return skipped(NO_CONTACT)
            if step.assignee is not None and session.get(User, step.assignee) is None:
                raise no_user(step.assignee)
            title = rendered(self.template(step, step.digest, "title"), contact, "title")
            if isinstance(title, CrmResult):
                return title
            task = tasks.create_task(
                session,
                {
                    "id": new_id("task"),
                    "contact_id": contact.id,
                    "title": title,
                    "due_at": step.due_at,
                    # Without one named, the contact's owner's (a user, as `assign_user` made it).
                    "assignee": step.assignee or contact.owner,
                    "enrollment_id": step.enrollment_id,
                    "step_key": step.key,
                },
            )
            session.commit()
            return made(task)

        return await self.db(create)
