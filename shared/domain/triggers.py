"""Triggers (SPEC §5): the events that start an automation by themselves, and
the pure test of whether one event fires one trigger. Most triggers read an
event as a goal criterion does, and say so by the criterion they stand for."""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, StrictBool, Tag

from shared.domain.criteria import (
    EMAIL_EVENT_TYPES,
    AppointmentCriterion,
    AppointmentStatus,
    Criterion,
    CustomCriterion,
    EmailAction,
    EmailCriterion,
    LinkClickedCriterion,
    TagAddedCriterion,
    TagRemovedCriterion,
    matches,
)
from shared.domain.events import Event
from shared.domain.ids import Id

# An automation's triggers: a bound that keeps the definition's check and the index small.
MAX_TRIGGERS = 20


class _Trigger(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def event_types(self) -> tuple[str, ...]:
        """The event types that may fire it."""
        raise NotImplementedError

    def criterion(self) -> Criterion | None:
        """The goal criterion that reads an event as this trigger does, if any."""
        return None


class EventTrigger(_Trigger):
    """A `custom` event by name, and by value when given."""

    type: Literal["event"]
    name: str = Field(min_length=1)
    value: str | int | float | bool | None = None

    def event_types(self) -> tuple[str, ...]:
        return ("custom",)

    def criterion(self) -> Criterion:
        return CustomCriterion(type="custom", name=self.name, value=self.value)


class TagAddedTrigger(_Trigger):
    type: Literal["tag.added"]
    tag: str = Field(min_length=1)

    def event_types(self) -> tuple[str, ...]:
        return ("tag.added",)

    def criterion(self) -> Criterion:
        return TagAddedCriterion(type="tag.added", tag=self.tag)


class TagRemovedTrigger(_Trigger):
    type: Literal["tag.removed"]
    tag: str = Field(min_length=1)

    def event_types(self) -> tuple[str, ...]:
        return ("tag.removed",)

    def criterion(self) -> Criterion:
        return TagRemovedCriterion(type="tag.removed", tag=self.tag)


class ListJoinedTrigger(_Trigger):
    type: Literal["list.joined"]
    list: Id

    def event_types(self) -> tuple[str, ...]:
        return ("list.joined",)


class ListLeftTrigger(_Trigger):
    type: Literal["list.left"]
    list: Id

    def event_types(self) -> tuple[str, ...]:
        return ("list.left",)


class AppointmentTrigger(_Trigger):
    type: Literal["appointment"]
    calendar: str = Field(min_length=1)
    statuses: list[AppointmentStatus] = Field(min_length=1)

    def event_types(self) -> tuple[str, ...]:
        return ("appointment.status",)

    def criterion(self) -> Criterion:
        return AppointmentCriterion(type="appointment", calendar=self.calendar, statuses=self.statuses)


class LinkClickedTrigger(_Trigger):
    type: Literal["link.clicked"]
    links: list[str] = Field(min_length=1)
    # Clicks by link scanners fire it only when this says so (G14).
    count_automated: StrictBool = False

    def event_types(self) -> tuple[str, ...]:
        return ("link.clicked",)

    def criterion(self) -> Criterion:
        return LinkClickedCriterion(
            type="link.clicked", links=self.links, count_automated=self.count_automated
        )


class EmailTrigger(_Trigger):
    """An email event about a message goalflow sent the contact; with
    `automation`, only about messages that automation's enrollments sent."""

    type: Literal["email"]
    actions: list[EmailAction] = Field(min_length=1)
    automation: Id | None = None
    # Opens and clicks by image proxies and link scanners fire it only when this says so (G14).
    count_automated: StrictBool = False

    def event_types(self) -> tuple[str, ...]:
        return tuple(t for t, actions in EMAIL_EVENT_TYPES.items() if not actions.isdisjoint(self.actions))

    def criterion(self) -> Criterion:
        return EmailCriterion(type="email", actions=self.actions, count_automated=self.count_automated)


class ContactCreatedTrigger(_Trigger):
    type: Literal["contact.created"]

    def event_types(self) -> tuple[str, ...]:
        return ("contact.created",)


_MODELS: dict[str, type[_Trigger]] = {
    "event": EventTrigger,
    "tag.added": TagAddedTrigger,
    "tag.removed": TagRemovedTrigger,
    "list.joined": ListJoinedTrigger,
    "list.left": ListLeftTrigger,
    "appointment": AppointmentTrigger,
    "link.clicked": LinkClickedTrigger,
    "email": EmailTrigger,
    "contact.created": ContactCreatedTrigger,
}
TRIGGER_TYPES = tuple(_MODELS)
# The union's tags are the model names: a type name such as "event" is also a
# field name elsewhere, and the definition's error locations drop these tags.
KINDS = tuple(model.__name__ for model in _MODELS.values())


def _kind(value: Any) -> str | None:
    if isinstance(value, _Trigger):
        return type(value).__name__
    if isinstance(value, dict) and isinstance(value.get("type"), str) and value["type"] in _MODELS:
        return _MODELS[value["type"]].__name__
    return None


Trigger = Annotated[
    Annotated[EventTrigger, Tag("EventTrigger")]
    | Annotated[TagAddedTrigger, Tag("TagAddedTrigger")]
    | Annotated[TagRemovedTrigger, Tag("TagRemovedTrigger")]
    | Annotated[ListJoinedTrigger, Tag("ListJoinedTrigger")]
    | Annotated[ListLeftTrigger, Tag("ListLeftTrigger")]
    | Annotated[AppointmentTrigger, Tag("AppointmentTrigger")]
    | Annotated[LinkClickedTrigger, Tag("LinkClickedTrigger")]
    | Annotated[EmailTrigger, Tag("EmailTrigger")]
    | Annotated[ContactCreatedTrigger, Tag("ContactCreatedTrigger")],
    Discriminator(
        _kind,
        custom_error_type="trigger",
        custom_error_message=f"a trigger's type is one of {', '.join(TRIGGER_TYPES)}",
    ),
]


def fires(trigger: _Trigger, event: Event, sent_by: str | None = None) -> bool:
    """Whether `event` fires `trigger`. For email events, `sent_by` is the
    automation whose enrollment sent the message to the event's contact, None
    when goalflow did not."""
    match trigger:
        case ListJoinedTrigger(list=name):
            return event.type == "list.joined" and event.data.get("list_id") == name
        case ListLeftTrigger(list=name):
            return event.type == "list.left" and event.data.get("list_id") == name
        case ContactCreatedTrigger():
            return event.type == "contact.created"
        case EmailTrigger(automation=automation):
            ours = sent_by is not None and automation in (None, sent_by)
            message = str(event.data.get("message_id"))
            return ours and matches(trigger.criterion(), event, {message: sent_by or ""})
    criterion = trigger.criterion()
    return criterion is not None and matches(criterion, event, {})
