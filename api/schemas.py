"""Request bodies. Responses are the shared models or plain dicts."""

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.domain.ids import Id

Tag = Field(min_length=1, max_length=200)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ContactFields(_Body):
    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+$")
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    timezone: str | None = None
    attributes: dict[str, Any] | None = None
    tags: list[str] | None = None

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone '{value}'") from None
        return value

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and any(not t or len(t) > 200 for t in value):
            raise ValueError("tags are 1 to 200 characters")
        return value


class ContactIn(ContactFields):
    id: Id | None = None


class TagIn(_Body):
    tag: str = Tag


class EnrollIn(_Body):
    contact_id: Id


class AppointmentIn(_Body):
    contact_id: Id
    calendar_id: str = Field(min_length=1, max_length=200)
    status: str = Field(pattern=r"^(new|confirmed|showed|cancelled|no_show)$")
