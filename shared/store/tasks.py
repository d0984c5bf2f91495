"""Tasks: something for a user to do about a contact, open until done."""

from typing import Any

from sqlmodel import Session, col, select

from shared.domain.errors import Conflict, NotFound
from shared.domain.paging import Page
from shared.store.contacts import get_contact
from shared.store.db import Task, utcnow
from shared.store.paging import paged
from shared.store.users import check_user


def create_task(session: Session, fields: dict[str, Any]) -> Task:
    """A task about an existing contact, for an existing user or none."""
    if session.get(Task, fields["id"]) is not None:
        raise Conflict(f"task '{fields['id']}' exists")
    get_contact(session, fields["contact_id"])
    check_user(session, fields.get("assignee"))
    task = Task(**fields, created_at=utcnow())
    session.add(task)
    return task


def made_by(session: Session, step_key: str) -> Task | None:
    """The task a step run made, if it made one."""
    return session.exec(select(Task).where(Task.step_key == step_key)).first()


def of_contact(session: Session, contact_id: str, page: Page) -> list[Task]:
    get_contact(session, contact_id)
    query = select(Task).where(Task.contact_id == contact_id)
    return list(session.exec(paged(query, col(Task.created_at), col(Task.id), page)))


def set_status(session: Session, task_id: str, status: str) -> Task:
    """`done` completes the task (once: a repeat keeps its time), `open` reopens it."""
    task = session.get(Task, task_id)
    if task is None:
        raise NotFound("task", task_id)
    if task.status != status:
        task.status = status
        task.completed_at = utcnow() if status == "done" else None
        session.add(task)
    return task
