"""Segments and triggers, pure: conditions on lists and event history (SPEC §5,
`if_else`), and which events fire which trigger (milliseconds, no I/O)."""

from datetime import timedelta
from typing import Any

import pytest
from pydantic import TypeAdapter

from shared.domain.conditions import (
    Condition,
    EventHistory,
    Facts,
    evaluate,
    histories,
    lists_named,
    required_list,
)
from shared.domain.definition import DefinitionError, parse_definition
from shared.domain.events import Event
from shared.domain.triggers import Trigger, fires

pytestmark = pytest.mark.unit

CONDITION: TypeAdapter[Any] = TypeAdapter(Condition)
TRIGGER: TypeAdapter[Any] = TypeAdapter(Trigger)


def condition(raw: dict[str, Any]) -> Any:
    return CONDITION.validate_python(raw)


def holds(raw: dict[str, Any], lists: set[str] = frozenset(), counts: list[int] = ()) -> bool:  # type: ignore[assignment]
    parsed = condition(raw)
    found = histories(parsed)
    facts = Facts({"vip"}, {"plan": "pro"}, lists, dict(zip(found, counts, strict=True)))
    return evaluate(parsed, facts)


def test_a_list_condition_holds_for_members_only() -> None:
    assert holds({"list": "newsletter"}, lists={"newsletter"})
    assert not holds({"list": "newsletter"}, lists={"customers"})


@pytest.mark.parametrize(
    ("count", "n", "expected"),
    [
        (None, 0, False),
        (None, 1, True),
        ({"gte": 2}, 1, False),
        ({"gte": 2}, 2, True),
        ({"gt": 2}, 2, False),
        ({"eq": 0}, 0, True),
        ({"lt": 3}, 2, True),
        ({"lte": 2}, 3, False),
        ({"gte": 2, "lte": 3}, 3, True),
        ({"gte": 2, "lte": 3}, 4, False),
    ],
)
def test_an_event_history_condition_compares_the_count(count: Any, n: int, expected: bool) -> None:
    raw: dict[str, Any] = {"event": "signup", **({"count": count} if count else {})}
    assert holds(raw, counts=[n]) is expected


def test_an_event_history_condition_keeps_its_value_and_window() -> None:
    parsed = condition({"event": "signup", "value": "pro", "count": {"gte": 2}, "within": "P30D"})
    assert isinstance(parsed, EventHistory)
    assert (parsed.value, parsed.within) == ("pro", timedelta(days=30))
    assert CONDITION.dump_python(parsed, mode="json", exclude_none=True) == {
        "event": "signup", "value": "pro", "count": {"gte": 2}, "within": "P30D",
    }  # fmt: skip


def test_conditions_mix_with_tags_and_attributes() -> None:
    raw = {
        "all": [{"tag": "vip"}, {"not": {"list": "unsubscribed"}}, {"event": "signup", "count": {"gte": 2}}]
    }
    assert holds(raw, lists=set(), counts=[2])
    assert not holds(raw, lists={"unsubscribed"}, counts=[2])
    assert not holds(raw, lists=set(), counts=[1])


def test_what_a_condition_needs_read_is_found_in_the_tree() -> None:
    parsed = condition(
        {
            "any": [
                {"all": [{"list": "a"}, {"event": "x"}]},
                {"not": {"list": "b"}},
                {"event": "x"},  # The same condition: counted once.
                {"event": "x", "within": "P1D"},
            ]
        }
    )
    assert lists_named(parsed) == {"a", "b"}
    assert [(h.event, h.within) for h in histories(parsed)] == [("x", None), ("x", timedelta(days=1))]
    assert required_list(parsed) is None
    assert required_list(condition({"all": [{"tag": "t"}, {"list": "a"}]})) == "a"
    assert required_list(condition({"list": "a"})) == "a"


@pytest.mark.parametrize(
    "raw",
    [{"event": "x", "count": {}}, {"event": "x", "count": {"gte": -1}}, {"list": "not an id"}, {"event": ""}],
)
def test_malformed_segment_conditions_are_refused_naming_the_field(raw: dict[str, Any]) -> None:
    with pytest.raises(DefinitionError) as caught:
        parse_definition(
            {"name": "t", "segment": raw, "steps": [{"id": "w", "type": "wait", "duration": "P1D"}]}
        )
    assert caught.value.problems[0].loc[0] == "segment"


def test_a_trigger_of_unknown_type_is_refused_with_the_known_types() -> None:
    with pytest.raises(DefinitionError) as caught:
        parse_definition(
            {"name": "t", "triggers": [{"type": "webinar"}], "steps": [{"id": "w", "type": "end"}]}
        )
    (problem,) = caught.value.problems
    assert problem.loc == ["triggers", 0]
    assert "event, tag.added, tag.removed, list.joined" in problem.msg


def event(type: str, **data: Any) -> Event:
    return Event(id="ev", contact_id="c1", type=type, data=data)  # type: ignore[arg-type]


def trigger(**raw: Any) -> Any:
    return TRIGGER.validate_python(raw)


@pytest.mark.parametrize(
    ("raw", "fired", "not_fired"),
    [
        (
            {"type": "event", "name": "signup"},
            event("custom", name="signup", value="free"),
            event("custom", name="login"),
        ),
        (
            {"type": "event", "name": "signup", "value": "pro"},
            event("custom", name="signup", value="pro"),
            event("custom", name="signup", value="free"),
        ),
        ({"type": "tag.added", "tag": "t"}, event("tag.added", tag="t"), event("tag.removed", tag="t")),
        ({"type": "tag.removed", "tag": "t"}, event("tag.removed", tag="t"), event("tag.added", tag="t")),
        (
            {"type": "list.joined", "list": "news"},
            event("list.joined", list_id="news"),
            event("list.joined", list_id="other"),
        ),
        (
            {"type": "list.left", "list": "news"},
            event("list.left", list_id="news"),
            event("list.joined", list_id="news"),
        ),
        (
            {"type": "appointment", "calendar": "cal_1", "statuses": ["new", "confirmed"]},
            event("appointment.status", calendar_id="cal_1", appointment_id="a", status="confirmed"),
            event("appointment.status", calendar_id="cal_1", appointment_id="a", status="cancelled"),
        ),
        (
            {"type": "link.clicked", "links": ["lnk_1"]},
            event("link.clicked", link_id="lnk_1"),
            event("link.clicked", link_id="lnk_1", automated=True),
        ),
        (
            {"type": "link.clicked", "links": ["lnk_1"], "count_automated": True},
            event("link.clicked", link_id="lnk_1", automated=True),
            event("link.clicked", link_id="lnk_2"),
        ),
        ({"type": "contact.created"}, event("contact.created"), event("tag.added", tag="t")),
    ],
)
def test_each_trigger_type_fires_on_its_events_only(
    raw: dict[str, Any], fired: Event, not_fired: Event
) -> None:
    parsed = trigger(**raw)
    assert fires(parsed, fired)
    assert not fires(parsed, not_fired)
    assert fired.type in parsed.event_types()


def test_an_email_trigger_fires_on_goalflows_messages_to_the_contact_only() -> None:
    any_message = trigger(type="email", actions=["opened", "spam"])
    from_welcome = trigger(type="email", actions=["opened"], automation="welcome")
    opened = event("email.opened", message_id="m1")
    assert fires(any_message, opened, sent_by="welcome")
    assert not fires(any_message, opened, sent_by=None)  # Not a message goalflow sent the contact.
    assert fires(from_welcome, opened, sent_by="welcome")
    assert not fires(from_welcome, opened, sent_by="nurture")
    assert fires(any_message, event("email.complained", message_id="m1"), sent_by="x")  # As criteria read it.
    assert not fires(any_message, event("email.clicked", message_id="m1"), sent_by="x")
    assert set(any_message.event_types()) == {"email.opened", "email.complained", "email.spam"}


def test_an_automated_open_fires_an_email_trigger_only_when_it_says_so() -> None:
    proxied = event("email.opened", message_id="m1", automated=True)
    assert not fires(trigger(type="email", actions=["opened"]), proxied, sent_by="a")
    assert fires(trigger(type="email", actions=["opened"], count_automated=True), proxied, sent_by="a")
