"""Tasks: something for a user to do about a contact; `open` until `done`."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlmodel import Session

from shared.domain.ids import new_id
from shared.domain.paging import Listed, Page, one_page
from shared.services.context import Services
from shared.store import tasks


class TaskView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    contact_id: str
    title: str
    due_at: datetime | None
    # A user id.
    assignee: str | None
    # open | done
    status: str
    # The enrollment whose `create_task` step made it; null for one made through the API.
    enrollment_id: str | None
    created_at: datetime
    completed_at: datetime | None


async def create(services: Services, fields: dict[str, Any]) -> TaskView:
    """A task, open; its `id` is generated when `fields` has none."""
    fields = {**fields, "id": fields.get("id") or new_id("task")}

    def save(session: Session) -> TaskView:
        task = tasks.create_task(session, fields)
        session.commit()
        return TaskView.model_validate(task)

    return await services.db(save)


async def of_contact(services: Services, contact_id: str, page: Page) -> Listed[TaskView]:
    """The contact's tasks, oldest first."""

    def read(session: Session) -> Listed[TaskView]:
        found = one_page(tasks.of_contact(session, contact_id, page), page, lambda t: (t.created_at, t.id))
        return found.map(TaskView.model_validate)

    return await services.db(read)


async def set_status(services: Services, task_id: str, status: str) -> TaskView:
    def save(session: Session) -> TaskView:
        task = tasks.set_status(session, task_id, status)
        session.commit()
        return TaskView.model_validate(task)

    return await services.db(save)
