"""Request bodies. Responses are the services' views."""

from typing import Annotated, Any, Literal
from zoneinfo import available_timezones

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.domain.durations import Duration
from shared.domain.ids import Id
from shared.domain.phones import E164

# The zones this machine knows, listed in the OpenAPI.
ZONES = sorted(available_timezones())
TAG: dict[str, Any] = {"min_length": 1, "max_length": 200}
Tag = Annotated[str, Field(**TAG)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Consent(_Body):
    email: Literal["subscribed", "unsubscribed"] | None = None
    sms: Literal["subscribed", "unsubscribed"] | None = None
    whatsapp: Literal["subscribed", "unsubscribed"] | None = None


class ContactFields(_Body):
    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+$")
    # E.164, as Twilio takes it and as inbound messages find the contact by it.
    phone: str | None = Field(default=None, pattern=E164)
    first_name: str | None = None
    last_name: str | None = None
    timezone: str | None = Field(default=None, json_schema_extra={"enum": [*ZONES, None]})
    attributes: dict[str, Any] | None = None
    tags: list[Tag] | None = None
    # `{"email": "subscribed"}` resubscribes (an `email.resubscribed` event).
    consent: Consent | None = None

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None and value not in ZONES:
            raise ValueError(f"unknown time zone '{value}'")
        return value


class ContactIn(ContactFields):
    id: Id | None = None


class TagIn(_Body):
    tag: Tag


class EnrollIn(_Body):
    contact_id: Id


class ResumeIn(_Body):
    # ISO 8601 (`P1D`): sends held longer are skipped as `stale`; absent, every held send goes out.
    stale_after: Duration | None = Field(default=None, examples=["P1D"])


class AppointmentIn(_Body):
    contact_id: Id
    calendar_id: str = Field(min_length=1, max_length=200)
    status: str = Field(pattern=r"^(new|confirmed|showed|cancelled|no_show)$")
