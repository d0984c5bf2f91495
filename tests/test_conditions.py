"""SPEC §2 `if_else` condition trees (`all` / `any` / `not` over tags and
attributes): parsing and pure evaluation against a contact snapshot."""

from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from shared.domain.conditions import Condition, Facts, evaluate
from shared.domain.definition import DefinitionError, parse_definition
from shared.domain.steps.if_else import IfElse

pytestmark = pytest.mark.unit

CONDITION: TypeAdapter[Any] = TypeAdapter(Condition)

TAGS = {"vip", "newsletter"}
ATTRIBUTES: dict[str, Any] = {
    "score": 42,
    "plan": "pro",
    "city": "Lyon",
    "interests": ["golf", "wine"],
    "fax": None,
}


def holds(raw: dict[str, Any], tags: set[str] = TAGS, attributes: dict[str, Any] = ATTRIBUTES) -> bool:
    return evaluate(CONDITION.validate_python(raw), Facts(tags, attributes))


def test_tag_condition_holds_when_the_contact_has_the_tag() -> None:
    assert holds({"tag": "vip"})
    assert not holds({"tag": "customer"})
    assert not holds({"tag": "vip"}, tags=set())


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        ("eq", 42, True),
        ("eq", 41, False),
        ("ne", 41, True),
        ("ne", 42, False),
        ("gt", 41, True),
        ("gt", 42, False),
        ("gte", 42, True),
        ("gte", 43, False),
        ("lt", 43, True),
        ("lt", 42, False),
        ("lte", 42, True),
        ("lte", 41, False),
    ],
)
def test_attribute_comparisons(op: str, value: int, expected: bool) -> None:
    assert holds({"attribute": "score", "op": op, "value": value}) is expected


def test_attribute_op_defaults_to_equality() -> None:
    assert holds({"attribute": "plan", "value": "pro"})
    assert not holds({"attribute": "plan", "value": "free"})


def test_contains_looks_inside_lists_and_strings() -> None:
    assert holds({"attribute": "interests", "op": "contains", "value": "golf"})
    assert not holds({"attribute": "interests", "op": "contains", "value": "tennis"})
    assert holds({"attribute": "city", "op": "contains", "value": "yo"})


def test_exists_and_not_exists_treat_a_null_attribute_as_absent() -> None:
    assert holds({"attribute": "score", "op": "exists"})
    assert not holds({"attribute": "missing", "op": "exists"})
    assert not holds({"attribute": "fax", "op": "exists"})
    assert holds({"attribute": "missing", "op": "not_exists"})
    assert holds({"attribute": "fax", "op": "not_exists"})
    assert not holds({"attribute": "plan", "op": "not_exists"})


def test_comparing_a_missing_attribute_is_false() -> None:
    for op in ("eq", "gt", "gte", "lt", "lte", "contains"):
        assert not holds({"attribute": "missing", "op": op, "value": 1}), op


def test_comparing_values_of_different_kinds_is_false_not_an_error() -> None:
    assert not holds({"attribute": "plan", "op": "gt", "value": 3})
    assert not holds({"attribute": "score", "op": "lt", "value": "100"})
    assert not holds({"attribute": "score", "op": "contains", "value": 4})


def test_all_holds_only_when_every_child_holds() -> None:
    assert holds({"all": [{"tag": "vip"}, {"attribute": "score", "op": "gte", "value": 40}]})
    assert not holds({"all": [{"tag": "vip"}, {"attribute": "score", "op": "gte", "value": 50}]})


def test_any_holds_when_one_child_holds() -> None:
    assert holds({"any": [{"tag": "customer"}, {"attribute": "plan", "value": "pro"}]})
    assert not holds({"any": [{"tag": "customer"}, {"attribute": "plan", "value": "free"}]})


def test_not_inverts_its_child() -> None:
    assert holds({"not": {"tag": "customer"}})
    assert not holds({"not": {"tag": "vip"}})


def test_nested_trees_evaluate_as_written() -> None:
    # VIP, or on the pro plan without the newsletter tag and scoring under 50.
    tree = {
        "any": [
            {"tag": "vip"},
            {
                "all": [
                    {"attribute": "plan", "value": "pro"},
                    {"not": {"tag": "newsletter"}},
                    {"attribute": "score", "op": "lt", "value": 50},
                ]
            },
        ]
    }
    assert holds(tree)
    assert not holds(tree, tags={"newsletter"})
    assert holds(tree, tags=set())
    assert not holds(tree, tags=set(), attributes={**ATTRIBUTES, "score": 50})


def test_a_condition_of_an_unknown_shape_is_refused_with_the_accepted_shapes() -> None:
    with pytest.raises(ValidationError, match=r"a condition is one of \{tag\}"):
        CONDITION.validate_python({"segment": "buyers"})


@pytest.mark.parametrize(
    "raw",
    [
        {"all": []},
        {"any": []},
        {"tag": ""},
        {"attribute": "score", "op": "between", "value": [1, 2]},
        {"tag": "vip", "colour": "red"},
        {"all": [{"tag": "vip"}, {"bogus": 1}]},
    ],
)
def test_malformed_conditions_are_refused(raw: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        CONDITION.validate_python(raw)


def test_an_if_else_step_parses_its_condition() -> None:
    automation = parse_definition(
        {
            "name": "test",
            "steps": [
                {
                    "id": "branch",
                    "type": "if_else",
                    "condition": {
                        "not": {"any": [{"tag": "vip"}, {"attribute": "score", "op": "gt", "value": 90}]}
                    },
                    "then": "cold",
                    "else": "warm",
                },
                {"id": "cold", "type": "add_tag", "tag": "cold", "next": "end"},
                {"id": "warm", "type": "add_tag", "tag": "warm"},
            ],
        }
    )
    step = automation.steps[0]
    assert isinstance(step, IfElse)
    assert (step.then, step.else_) == ("cold", "warm")
    assert not evaluate(step.condition, Facts({"vip"}, {}))
    assert not evaluate(step.condition, Facts(set(), {"score": 91}))
    assert evaluate(step.condition, Facts(set(), {"score": 90}))


def test_a_bad_condition_in_an_if_else_step_names_the_step_and_the_field() -> None:
    with pytest.raises(DefinitionError) as caught:
        parse_definition(
            {"name": "test", "steps": [{"id": "branch", "type": "if_else", "condition": {"segment": "x"}}]}
        )
    (problem,) = caught.value.problems
    assert problem.loc == ["steps", 0, "condition"]
    assert problem.msg.startswith("step 'branch': a condition is one of")


def test_a_missing_attribute_differs_from_any_value() -> None:
    assert holds({"attribute": "nickname", "op": "ne", "value": "pro"})
    assert not holds({"attribute": "nickname", "op": "eq", "value": "pro"})
