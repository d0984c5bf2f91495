"""Events (SPEC §4): what forwarders post and what enrollments receive as signals."""

from datetime import UTC, datetime
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.domain.ids import Id
from shared.domain.phones import TEXT_CHANNELS
from shared.domain.times import DateTime

EventType = Literal[
    "email.opened",
    "email.clicked",
    "email.unsubscribed",
    "email.complained",
    "email.spam",
    "email.replied",
    "email.resubscribed",
    # From providers' webhooks: delivered to the recipient's server; refused for
    # good (`bounced`, which stops email to the address); refused for now (`deferred`).
    "email.delivered",
    "email.bounced",
    "email.deferred",
    "link.clicked",
    "tag.added",
    "tag.removed",
    "appointment.status",
    "custom",
    # SMS and WhatsApp (`data.channel`): Twilio's status callbacks and inbound messages.
    "sms.delivered",
    "sms.failed",
    "sms.unsubscribed",
    "sms.resubscribed",
    "sms.replied",
    # List membership (`data.list_id`), and a contact's creation.
    "list.joined",
    "list.left",
    "contact.created",
    # A conversion (`data.name`, optional `value` and `currency`): a
    # `record_conversion` step's, or one posted from outside.
    "conversion",
    # A deal moved to another stage (`data.deal_id`, `pipeline`, `from`, `to`).
    "deal.stage_changed",
]

# The data fields each event type must carry.
REQUIRED_DATA: dict[str, tuple[str, ...]] = {
    "link.clicked": ("link_id",),
    "tag.added": ("tag",),
    "tag.removed": ("tag",),
    "appointment.status": ("calendar_id", "appointment_id", "status"),
    "custom": ("name",),
    # Consent given back through the API: about no message.
    "email.resubscribed": (),
    "sms.delivered": ("message_id",),
    "sms.failed": ("message_id",),
    # What a contact texts: a reply may answer no message of ours.
    "sms.unsubscribed": (),
    "sms.resubscribed": (),
    "sms.replied": (),
    "list.joined": ("list_id",),
    "list.left": ("list_id",),
    "contact.created": (),
    "conversion": ("name",),
    "deal.stage_changed": ("deal_id", "pipeline", "to"),
}
APPOINTMENT_STATUSES = ("new", "confirmed", "showed", "cancelled", "no_show")
# The data fields that criteria read (shared.domain.criteria): all an enrollment is
# sent of an event, so its signals and history stay small whatever else a sender
# put in `data`. The whole event stays in the database.
SIGNALLED_DATA = (
    "message_id",
    "link_id",
    "tag",
    "calendar_id",
    "appointment_id",
    "status",
    "name",
    "value",
    "automated",
    "list_id",
    # `deal.stage` criteria: the deal's pipeline and the stage it moved to (and
    # the deal, which the event requires: a signal is validated as an event).
    "deal_id",
    "pipeline",
    "to",
)


def _required(event_type: str) -> tuple[str, ...]:
    if event_type in REQUIRED_DATA:
        return REQUIRED_DATA[event_type]
    return ("message_id",) if event_type.startswith("email.") else ()


def _data_rules() -> dict[str, Any]:
    """The data each type needs, in JSON Schema, as `_check` checks it."""
    rules: list[dict[str, Any]] = []
    for event_type in get_args(EventType):
        fields = _required(event_type)
        data: dict[str, Any] = {f: {"not": {"enum": [None, ""]}} for f in fields}
        if event_type == "appointment.status":
            data["status"] = {"enum": list(APPOINTMENT_STATUSES)}
        if event_type.startswith("sms."):
            data["channel"] = {"enum": list(TEXT_CHANNELS)}
        rules.append(
            {
                "if": {"properties": {"type": {"const": event_type}}, "required": ["type"]},
                "then": {
                    "required": ["data"],
                    "properties": {"data": {"required": list(fields), "properties": data}},
                },
            }
        )
    return {"allOf": rules}


class Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=_data_rules())

    id: str = Field(min_length=1, max_length=200)
    contact_id: Id
    type: EventType
    occurred_at: DateTime = Field(default_factory=lambda: datetime.now(UTC))
    data: dict[str, Any] = {}

    @model_validator(mode="after")
    def _check(self) -> "Event":
        # Naive times are taken as UTC; all times are kept in UTC so that stored
        # times compare correctly in every database.
        when = self.occurred_at
        object.__setattr__(
            self, "occurred_at", when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
        )
        missing = [f for f in _required(self.type) if self.data.get(f) in (None, "")]
        if missing:
            raise ValueError(f"data.{missing[0]} is required for {self.type} events")
        if self.type == "appointment.status" and self.data["status"] not in APPOINTMENT_STATUSES:
            raise ValueError(f"data.status must be one of {', '.join(APPOINTMENT_STATUSES)}")
        if (
            self.type.startswith("sms.")
            and "channel" in self.data
            and self.data["channel"] not in TEXT_CHANNELS
        ):
            raise ValueError(f"data.channel must be one of {', '.join(TEXT_CHANNELS)}")
        return self


def signalled(event: Event) -> Event:
    """What an enrollment receives of `event`: its data cut to SIGNALLED_DATA."""
    data = {k: event.data[k] for k in SIGNALLED_DATA if k in event.data}
    return event if len(data) == len(event.data) else event.model_copy(update={"data": data})
