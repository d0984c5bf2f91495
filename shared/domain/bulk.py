"""Bulk enrollment: whom it puts into an automation (a list of contact ids,
a list's members or a segment's matches) and what it reports."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from shared.domain.conditions import Condition
from shared.domain.ids import Id

# Ids one request may name; more go through a list or a segment.
MAX_CONTACT_IDS = 10_000

BulkStatus = Literal["running", "paused", "completed", "cancelled", "failed"]
# Where a bulk enrollment is no longer driven: nothing changes it any more.
FINAL: frozenset[str] = frozenset({"completed", "cancelled", "failed"})


class Selection(BaseModel):
    """Exactly one of `contact_ids`, `list` and `segment`; `rate` caps its speed."""

    # The schema says "exactly one" too, so clients and fuzzers know it.
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"oneOf": [{"required": [name]} for name in ("contact_ids", "list", "segment")]},
    )

    contact_ids: (
        Annotated[list[Id], Field(min_length=1, max_length=MAX_CONTACT_IDS)] | SkipJsonSchema[None]
    ) = None
    list: Id | SkipJsonSchema[None] = None
    segment: Condition | SkipJsonSchema[None] = None
    # Contacts per second at most; absent: as fast as live traffic leaves room for.
    rate: Annotated[float, Field(ge=0.01, le=100_000)] | SkipJsonSchema[None] = None

    @field_validator("contact_ids", "list", "segment", "rate", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("leave the field out rather than null")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> "Selection":
        given = [name for name in ("contact_ids", "list", "segment") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of contact_ids, list and segment (got {given or 'none'})")
        return self

    def source(self) -> dict[str, object]:
        """What the bulk enrollment keeps of it: the one source, in JSON."""
        return self.model_dump(mode="json", exclude_none=True, exclude={"rate"})


class BulkView(BaseModel):
    """What `GET /bulk-enrollments/{id}` returns."""

    bulk_id: str
    automation_id: str
    version: int
    status: BulkStatus
    # Contacts read so far; final once it ends.
    matched: int
    enrolled: int
    # Reason: count, e.g. {"already enrolled": 3, "reentry never": 1}.
    skipped: dict[str, int]
    failed: int
    started_at: datetime
    finished_at: datetime | None
    rate: float | None = None


class Matched(BaseModel):
    """What a dry run answers: how many contacts it would read."""

    matched: int


class Started(BaseModel):
    bulk_id: str
    status: BulkStatus = "running"
