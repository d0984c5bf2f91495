"""Event criteria, shared by goal steps and `wait_for_event` steps, and the pure
test of whether one event meets one criterion."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from shared.domain.events import Event
from shared.domain.ids import Id

EmailAction = Literal["opened", "clicked", "unsubscribed", "complained", "spam"]
# The email events criteria read, and the actions each is. Providers report a
# spam complaint as one event, which criteria name either way.
EMAIL_EVENT_TYPES: dict[str, frozenset[str]] = {
    "email.opened": frozenset({"opened"}),
    "email.clicked": frozenset({"clicked"}),
    "email.unsubscribed": frozenset({"unsubscribed"}),
    "email.complained": frozenset({"complained", "spam"}),
    "email.spam": frozenset({"complained", "spam"}),
}
AppointmentStatus = Literal["new", "confirmed", "showed"]
SmsAction = Literal["delivered", "failed", "replied", "unsubscribed"]


class _Criterion(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EmailCriterion(_Criterion):
    type: Literal["email"]
    actions: list[EmailAction] = Field(min_length=1)
    # Send steps the message must come from; empty means any email this enrollment sent.
    steps: list[str] = []
    # Opens and clicks by image proxies and link scanners count only when this says so (G14).
    count_automated: StrictBool = False


class SmsCriterion(_Criterion):
    """An SMS or WhatsApp message of this enrollment delivered, failed, or
    answered (a reply, or an opt-out word): its events' `message_id` (G8)."""

    type: Literal["sms"]
    actions: list[SmsAction] = Field(min_length=1)
    # send_sms or send_whatsapp steps the message must come from; empty means any.
    steps: list[str] = []


class LinkClickedCriterion(_Criterion):
    type: Literal["link.clicked"]
    links: list[str] = Field(min_length=1)
    count_automated: StrictBool = False


class TagAddedCriterion(_Criterion):
    type: Literal["tag.added"]
    tag: str = Field(min_length=1)


class TagRemovedCriterion(_Criterion):
    type: Literal["tag.removed"]
    tag: str = Field(min_length=1)


class AppointmentCriterion(_Criterion):
    type: Literal["appointment"]
    calendar: str = Field(min_length=1)
    statuses: list[AppointmentStatus] = Field(min_length=1)


class DealStageCriterion(_Criterion):
    """A deal of the contact moved to one of `stages` of `pipeline`, whatever moved it."""

    type: Literal["deal.stage"]
    pipeline: str = Field(min_length=1)
    stages: list[str] = Field(min_length=1)


class CustomCriterion(_Criterion):
    type: Literal["custom"]
    name: str = Field(min_length=1)
    value: str | int | float | bool | None = None


class ListJoinedCriterion(_Criterion):
    """The contact joined the list, whatever made it join (the API, a step of
    any automation, this enrollment's own). Met once: leaving does not re-arm it."""

    type: Literal["list.joined"]
    list: Id


class ConversionCriterion(_Criterion):
    """A `conversion` event of that name: a `record_conversion` step's, or one posted."""

    type: Literal["conversion"]
    name: str = Field(min_length=1)


CRITERION_TYPES = (
    "email",
    "sms",
    "link.clicked",
    "tag.added",
    "tag.removed",
    "appointment",
    "custom",
    "list.joined",
    "conversion",
    "deal.stage",
)
Criterion = Annotated[
    EmailCriterion
    | SmsCriterion
    | LinkClickedCriterion
    | TagAddedCriterion
    | TagRemovedCriterion
    | AppointmentCriterion
    | CustomCriterion
    | ListJoinedCriterion
    | ConversionCriterion
    | DealStageCriterion,
    Field(discriminator="type"),
]


def matches(criterion: Criterion, event: Event, sent: dict[str, str]) -> bool:
    """Whether `event` meets `criterion`. `sent` maps the message ids this
    enrollment sent to the send step that sent each (SPEC G8)."""
    data = event.data
    if data.get("automated") and not getattr(criterion, "count_automated", False):
        return False  # G14: decided when the hit arrived, never revisited (G11).
    match criterion:
        case EmailCriterion(actions=actions, steps=steps):
            if not event.type.startswith("email."):
                return False
            step = sent.get(str(data.get("message_id")))
            met = EMAIL_EVENT_TYPES.get(event.type, frozenset())
            return not met.isdisjoint(actions) and step is not None and (not steps or step in steps)
        case SmsCriterion(actions=actions, steps=steps):
            step = sent.get(str(data.get("message_id")))
            return (
                event.type.startswith("sms.")
                and event.type.removeprefix("sms.") in actions
                and step is not None
                and (not steps or step in steps)
            )
        case LinkClickedCriterion(links=links):
            return event.type == "link.clicked" and data.get("link_id") in links
        case TagAddedCriterion(tag=tag):
            return event.type == "tag.added" and data.get("tag") == tag
        case TagRemovedCriterion(tag=tag):
            return event.type == "tag.removed" and data.get("tag") == tag
        case AppointmentCriterion(calendar=calendar, statuses=statuses):
            return (
                event.type == "appointment.status"
                and data.get("calendar_id") == calendar
                and data.get("status") in statuses
            )
        case DealStageCriterion(pipeline=pipeline, stages=stages):
            return (
                event.type == "deal.stage_changed"
                and data.get("pipeline") == pipeline
                and data.get("to") in stages
            )
        case CustomCriterion(name=name, value=value):
            return (
                event.type == "custom"
                and data.get("name") == name
                and (value is None or data.get("value") == value)
            )
        case ListJoinedCriterion(list=list_id):
            return event.type == "list.joined" and data.get("list_id") == list_id
        case ConversionCriterion(name=name):
            return event.type == "conversion" and data.get("name") == name
    return False


def rearms(criterion: Criterion, event: Event) -> bool:
    """Whether `event` undoes the condition of a met tag criterion, so that its
    goal may be met again (SPEC G4)."""
    tag = event.data.get("tag")
    match criterion:
        case TagAddedCriterion():
            return event.type == "tag.removed" and tag == criterion.tag
        case TagRemovedCriterion():
            return event.type == "tag.added" and tag == criterion.tag
    return False
