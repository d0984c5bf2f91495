"""Users: the team that owns contacts and deals and does tasks."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict
from sqlmodel import Session

from shared.domain.ids import new_id
from shared.domain.paging import Listed, Page, one_page
from shared.services.context import Services
from shared.store import users


class UserView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    email: str
    created_at: datetime


async def create(services: Services, name: str, email: str, user_id: str | None = None) -> UserView:
    user_id = user_id or new_id("usr")

    def save(session: Session) -> UserView:
        user = users.create_user(session, user_id, name, email)
        session.commit()
        return UserView.model_validate(user)

    return await services.db(save)


async def get(services: Services, user_id: str) -> UserView:
    return await services.db(lambda s: UserView.model_validate(users.get_user(s, user_id)))


async def listed(services: Services, page: Page) -> Listed[UserView]:
    """Users, oldest first."""

    def read(session: Session) -> Listed[UserView]:
        found = one_page(users.listed(session, page), page, lambda u: (u.created_at, u.id))
        return found.map(UserView.model_validate)

    return await services.db(read)
