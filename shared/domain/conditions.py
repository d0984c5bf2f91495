"""Condition trees for `if_else` (`all` / `any` / `not` over tags and
attributes) and their pure evaluation against a contact snapshot."""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag


class _Node(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class HasTag(_Node):
    tag: str = Field(min_length=1)


class AttributeTest(_Node):
    attribute: str = Field(min_length=1)
    op: Literal["eq", "ne", "gt", "gte", "lt", "lte", "exists", "not_exists", "contains"] = "eq"
    value: Any = None


class AllOf(_Node):
    all: list["Condition"] = Field(min_length=1)


class AnyOf(_Node):
    any: list["Condition"] = Field(min_length=1)


class Not(_Node):
    not_: "Condition" = Field(alias="not")


def _kind(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        return type(value).__name__
    if isinstance(value, dict):
        for key, kind in (("all", "AllOf"), ("any", "AnyOf"), ("not", "Not"), ("tag", "HasTag")):
            if key in value:
                return kind
        if "attribute" in value:
            return "AttributeTest"
    return None


Condition = Annotated[
    Annotated[HasTag, Tag("HasTag")]
    | Annotated[AttributeTest, Tag("AttributeTest")]
    | Annotated[AllOf, Tag("AllOf")]
    | Annotated[AnyOf, Tag("AnyOf")]
    | Annotated[Not, Tag("Not")],
    Discriminator(
        _kind,
        custom_error_type="condition",
        custom_error_message="a condition is one of {tag}, {attribute, op, value}, "
        "{all: [...]}, {any: [...]} or {not: {...}}",
    ),
]

for _model in (AllOf, AnyOf, Not):
    _model.model_rebuild()


def _compare(op: str, actual: Any, expected: Any) -> bool:
    try:
        match op:
            case "eq":
                return bool(actual == expected)
            case "ne":
                return bool(actual != expected)
            case "gt":
                return bool(actual > expected)
            case "gte":
                return bool(actual >= expected)
            case "lt":
                return bool(actual < expected)
            case "lte":
                return bool(actual <= expected)
            case "contains":
                return expected in actual
    except TypeError:
        # Comparing a string attribute with a number is simply not true.
        return False
    return False


def evaluate(condition: Condition, tags: set[str], attributes: dict[str, Any]) -> bool:
    match condition:
        case HasTag(tag=tag):
            return tag in tags
        case AttributeTest(attribute=name, op="exists"):
            return attributes.get(name) is not None
        case AttributeTest(attribute=name, op="not_exists"):
            return attributes.get(name) is None
        case AttributeTest(attribute=name, op="ne", value=value):
            return attributes.get(name) != value  # A missing attribute differs from any value.
        case AttributeTest(attribute=name, op=op, value=value):
            return name in attributes and _compare(op, attributes[name], value)
        case AllOf(all=children):
            return all(evaluate(c, tags, attributes) for c in children)
        case AnyOf(any=children):
            return any(evaluate(c, tags, attributes) for c in children)
        case Not(not_=child):
            return not evaluate(child, tags, attributes)
    raise TypeError(f"not a condition: {condition!r}")
