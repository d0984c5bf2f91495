"""Tasks: for a user, about a contact; `open` until completed."""

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Request, Response, status
from pydantic import Field, field_validator

from api.auth import guarded
from api.deps import ServicesDep
from api.errors import BODY, conflict, not_found
from api.paging import PAGED, PageDep, linked
from api.schemas import _Body
from shared.domain.crm import Name
from shared.domain.ids import ID_PATTERN, Id
from shared.domain.times import AwareDateTime
from shared.services import tasks
from shared.services.tasks import TaskView

router = APIRouter(tags=["tasks"])

PathId = Annotated[str, Path(pattern=ID_PATTERN)]


class TaskIn(_Body):
    id: Id | None = None
    contact_id: Id
    title: Name
    due_at: AwareDateTime | None = None
    # A user id.
    assignee: Id | None = None

    @field_validator("due_at")
    @classmethod
    def _in_utc(cls, value: datetime | None) -> datetime | None:
        try:  # Kept in UTC: 9999-12-31T23:00:00-05:00 has no UTC time.
            return None if value is None else value.astimezone(UTC)
        except OverflowError:
            raise ValueError("out of range once in UTC") from None


class TaskPatch(_Body):
    # `done` completes the task, `open` reopens it.
    status: Literal["open", "done"] = Field(examples=["done"])


@router.post(
    "/tasks",
    status_code=status.HTTP_201_CREATED,
    **guarded("admin", {**BODY, **not_found("contact or user"), **conflict("A task with that id exists")}),
)
async def create_task(body: TaskIn, services: ServicesDep) -> TaskView:
    """An open task about the contact; `id` is optional (generated when absent)."""
    return await tasks.create(services, body.model_dump(exclude_none=True))


@router.patch("/tasks/{task_id}", **guarded("admin", {**BODY, **not_found("task")}))
async def update_task(task_id: PathId, body: TaskPatch, services: ServicesDep) -> TaskView:
    """`{"status": "done"}` completes the task (`completed_at`); `open` reopens it."""
    return await tasks.set_status(services, task_id, body.status)


@router.get("/contacts/{contact_id}/tasks", **guarded("read", {**PAGED, **not_found("contact")}))
async def contact_tasks(
    contact_id: PathId, services: ServicesDep, page: PageDep, request: Request, response: Response
) -> list[TaskView]:
    """The contact's tasks, oldest first."""
    return linked(await tasks.of_contact(services, contact_id, page), request, response)
