"""Request bodies. Responses are the services' views."""

from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.domain.ids import Id

TAG: dict[str, Any] = {"min_length": 1, "max_length": 200}
Tag = Annotated[str, Field(**TAG)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ContactFields(_Body):
    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+$")
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    timezone: str | None = None
    attributes: dict[str, Any] | None = None
    tags: list[Tag] | None = None

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone '{value}'") from None
        return value


class ContactIn(ContactFields):
    id: Id | None = None


class TagIn(_Body):
    tag: Tag


class EnrollIn(_Body):
    contact_id: Id


class AppointmentIn(_Body):
    contact_id: Id
    calendar_id: str = Field(min_length=1, max_length=200)
    status: str = Field(pattern=r"^(new|confirmed|showed|cancelled|no_show)$")
