"""The list, blocklist and conversion steps and criteria in a definition, and
the events they read: pure (`shared.domain`)."""

from typing import Any

import pytest
from pydantic import ValidationError

from shared.domain.criteria import ConversionCriterion, ListJoinedCriterion, matches
from shared.domain.definition import DefinitionError, parse_definition, plan_of
from shared.domain.events import Event

pytestmark = pytest.mark.unit

STEPS = [
    {"id": "join", "type": "add_to_list", "list": "news"},
    {"id": "leave", "type": "remove_from_list", "list": "old"},
    {"id": "block", "type": "blocklist"},
    {"id": "paid", "type": "record_conversion", "name": "purchase", "value": 49, "currency": "EUR"},
    {"id": "signed", "type": "record_conversion", "name": "signup"},
    {
        "id": "until",
        "type": "wait_for_event",
        "timeout": "P1D",
        "criteria": [{"type": "list.joined", "list": "news"}, {"type": "conversion", "name": "purchase"}],
    },
    {"id": "won", "type": "goal", "criteria": [{"type": "conversion", "name": "purchase"}]},
]


def problems(*steps: dict[str, Any]) -> list[tuple[list[str | int], str]]:
    with pytest.raises(DefinitionError) as raised:
        parse_definition({"name": "test", "steps": list(steps)})
    return [(p.loc, p.msg) for p in raised.value.problems]


def test_the_steps_and_criteria_are_accepted_and_saved_as_written() -> None:
    # Lists are not looked up on save (as in triggers and conditions): they may be made later.
    automation = parse_definition({"name": "test", "steps": STEPS})
    saved = automation.model_dump(mode="json", by_alias=True, exclude_none=True)["steps"]
    planned = plan_of(automation).model_dump(mode="json", by_alias=True, exclude_none=True)["steps"]
    for steps in (saved, planned):  # No content: an enrollment's plan carries them whole.
        assert steps[:5] == STEPS[:5]
        assert [s["criteria"] for s in steps[5:]] == [s["criteria"] for s in STEPS[5:]]


def test_bad_fields_name_the_step_and_the_field() -> None:
    found = problems(
        {"id": "a", "type": "add_to_list", "list": "not an id"},
        {"id": "b", "type": "remove_from_list"},
        {"id": "c", "type": "blocklist", "list": "news"},
        {"id": "d", "type": "record_conversion", "name": "", "currency": "eur"},
        {"id": "e", "type": "record_conversion", "name": "big", "value": 1e300},
        {"id": "t", "type": "record_conversion", "name": "true", "value": True},
        {
            "id": "f",
            "type": "goal",
            "criteria": [{"type": "list.joined"}, {"type": "conversion", "name": ""}],
        },
    )
    assert [(loc, msg.split(":")[0]) for loc, msg in found] == [
        (["steps", 0, "list"], "step 'a'"),
        (["steps", 1, "list"], "step 'b'"),
        (["steps", 2, "list"], "step 'c'"),
        (["steps", 3, "name"], "step 'd'"),
        (["steps", 3, "currency"], "step 'd'"),
        (["steps", 4, "value"], "step 'e'"),
        (["steps", 5, "value"], "step 't'"),
        (["steps", 6, "criteria", 0, "list"], "step 'f'"),
        (["steps", 6, "criteria", 1, "name"], "step 'f'"),
    ]


def event(type: str, **data: Any) -> Event:
    return Event(id="e", contact_id="c", type=type, data=data)  # type: ignore[arg-type]


def test_list_joined_and_conversion_criteria_read_their_events() -> None:
    joined = ListJoinedCriterion(type="list.joined", list="news")
    assert matches(joined, event("list.joined", list_id="news"), {})
    assert not matches(joined, event("list.joined", list_id="old"), {})
    assert not matches(joined, event("list.left", list_id="news"), {})
    converted = ConversionCriterion(type="conversion", name="purchase")
    assert matches(converted, event("conversion", name="purchase", value=10, currency="EUR"), {})
    assert not matches(converted, event("conversion", name="signup"), {})
    assert not matches(converted, event("custom", name="purchase"), {})


def test_a_conversion_event_names_its_conversion() -> None:
    with pytest.raises(ValidationError, match=r"data\.name is required for conversion events"):
        event("conversion", value=10)
