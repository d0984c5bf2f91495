"""Users, a contact's owner, and the turns of round-robin assignments."""

from sqlalchemy import update
from sqlmodel import Session, col, select

from shared.domain.errors import Conflict, NotFound
from shared.domain.paging import WHOLE, Page
from shared.store.contacts import get_contact
from shared.store.db import Rotation, User, insert_new, utcnow
from shared.store.paging import paged


def create_user(session: Session, user_id: str, name: str, email: str) -> User:
    if session.get(User, user_id) is not None:
        raise Conflict(f"user '{user_id}' exists")
    user = User(id=user_id, name=name, email=email, created_at=utcnow())
    session.add(user)
    return user


def get_user(session: Session, user_id: str) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("user", user_id)
    return user


def check_user(session: Session, user_id: str | None) -> None:
    """NotFound unless `user_id` is None or a user's."""
    if user_id is not None:
        get_user(session, user_id)


def listed(session: Session, page: Page = WHOLE) -> list[User]:
    """Users, oldest first (one more than `page.limit`, to tell a next page)."""
    return list(session.exec(paged(select(User), col(User.created_at), col(User.id), page)))


def emails_of(session: Session, user_ids: list[str]) -> dict[str, str]:
    """The email of each of `user_ids` that is a user's."""
    query = select(User.id, User.email).where(col(User.id).in_(user_ids))
    return dict(session.exec(query).all())  # type: ignore[arg-type]


def missing(session: Session, user_ids: list[str]) -> list[str]:
    """Those of `user_ids` that are no user's, in order."""
    known = set(session.exec(select(User.id).where(col(User.id).in_(user_ids))))
    return [u for u in dict.fromkeys(user_ids) if u not in known]


def set_owner(session: Session, contact_id: str, user_id: str) -> str | None:
    """Make `user_id` the contact's owner; the owner it had."""
    contact = get_contact(session, contact_id)
    previous, contact.owner = contact.owner, user_id
    session.add(contact)
    return previous


def take_turn(session: Session, automation_id: str, version: int, step_id: str) -> int:
    """The next turn of a round-robin step (0, 1, 2, …), each taken once however
    many take one at a time: one UPDATE moves the count and returns it, and the
    row stays locked (PostgreSQL) or the database written (SQLite) until commit."""
    key = {"automation_id": automation_id, "version": version, "step_id": step_id}
    insert_new(session, Rotation, **key, turns=0)
    rotations = Rotation.__table__  # type: ignore[attr-defined]
    statement = (
        update(rotations)
        .where(*(rotations.c[name] == value for name, value in key.items()))
        .values(turns=rotations.c.turns + 1)
        .returning(rotations.c.turns)
    )
    return int(session.connection().execute(statement).scalar_one()) - 1
