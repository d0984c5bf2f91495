"""Condition trees (`all` / `any` / `not`) over a contact's tags, attributes,
lists and event history: the condition of an `if_else` step and an
automation's `segment`, and their pure evaluation against what is known of
the contact (`Facts`, read by `shared.store.segments`)."""

from collections.abc import Mapping, Set
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, StrictInt, Tag, model_validator

from shared.domain.durations import Duration
from shared.domain.ids import Id


class _Node(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class HasTag(_Node):
    tag: str = Field(min_length=1)


class AttributeTest(_Node):
    attribute: str = Field(min_length=1)
    op: Literal["eq", "ne", "gt", "gte", "lt", "lte", "exists", "not_exists", "contains"] = "eq"
    value: Any = None


class InList(_Node):
    """The contact is a member of the list (its id)."""

    list: Id


class CountTest(_Node):
    """`{"gte": 2}`: every bound given must hold."""

    eq: StrictInt | None = Field(default=None, ge=0)
    gt: StrictInt | None = Field(default=None, ge=0)
    gte: StrictInt | None = Field(default=None, ge=0)
    lt: StrictInt | None = Field(default=None, ge=1)
    lte: StrictInt | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _some_bound(self) -> "CountTest":
        if self.model_dump(exclude_none=True) == {}:
            raise ValueError("give at least one of eq, gt, gte, lt, lte")
        return self

    def holds(self, n: int) -> bool:
        return all(_compare(op, n, bound) for op, bound in self.model_dump(exclude_none=True).items())


class EventHistory(_Node):
    """How often the contact's `custom` events named `event` (with `value`, when
    given) occurred: within `within` before the moment it is checked, or ever."""

    event: str = Field(min_length=1)
    value: str | int | float | bool | None = None
    # None: at least once.
    count: CountTest | None = None
    within: Duration | None = None


class AllOf(_Node):
    all: list["Condition"] = Field(min_length=1)


class AnyOf(_Node):
    any: list["Condition"] = Field(min_length=1)


class Not(_Node):
    not_: "Condition" = Field(alias="not")


# The keys that say which kind a condition is, in the order they are tried.
_KEYS = (
    ("all", "AllOf"),
    ("any", "AnyOf"),
    ("not", "Not"),
    ("tag", "HasTag"),
    ("attribute", "AttributeTest"),
    ("list", "InList"),
    ("event", "EventHistory"),
)
KINDS = tuple(kind for _, kind in _KEYS)


def _kind(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        return type(value).__name__
    if isinstance(value, dict):
        return next((kind for key, kind in _KEYS if key in value), None)
    return None


Condition = Annotated[
    Annotated[HasTag, Tag("HasTag")]
    | Annotated[AttributeTest, Tag("AttributeTest")]
    | Annotated[InList, Tag("InList")]
    | Annotated[EventHistory, Tag("EventHistory")]
    | Annotated[AllOf, Tag("AllOf")]
    | Annotated[AnyOf, Tag("AnyOf")]
    | Annotated[Not, Tag("Not")],
    Discriminator(
        _kind,
        custom_error_type="condition",
        custom_error_message="a condition is one of {tag}, {attribute, op, value}, {list}, "
        "{event, count, value, within}, {all: [...]}, {any: [...]} or {not: {...}}",
    ),
]

for _model in (AllOf, AnyOf, Not):
    _model.model_rebuild()


@dataclass(frozen=True)
class Facts:
    """What a condition is evaluated against. `lists` need only hold the lists
    the condition names, `counts` one count per event-history condition in it."""

    tags: Set[str]
    attributes: Mapping[str, Any]
    lists: Set[str] = frozenset()
    counts: Mapping[EventHistory, int] = field(default_factory=dict)


def children(condition: Condition) -> list[Condition]:
    match condition:
        case AllOf(all=nodes) | AnyOf(any=nodes):
            return list(nodes)
        case Not(not_=node):
            return [node]
    return []


def _walk(condition: Condition) -> list[Condition]:
    nodes = [condition]
    for child in children(condition):
        nodes.extend(_walk(child))
    return nodes


def histories(condition: Condition) -> list[EventHistory]:
    """The event-history conditions in the tree, each once, in order."""
    return list(dict.fromkeys(n for n in _walk(condition) if isinstance(n, EventHistory)))


def lists_named(condition: Condition) -> set[str]:
    return {n.list for n in _walk(condition) if isinstance(n, InList)}


def required_list(condition: Condition) -> str | None:
    """A list every contact meeting the condition is in: the condition itself,
    or one of the conditions an `all` requires. Lets a search start from the list."""
    match condition:
        case InList(list=name):
            return name
        case AllOf(all=nodes):
            return next((found for n in nodes if (found := required_list(n)) is not None), None)
    return None


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


def evaluate(condition: Condition, facts: Facts) -> bool:
    attributes = facts.attributes
    match condition:
        case HasTag(tag=tag):
            return tag in facts.tags
        case AttributeTest(attribute=name, op="exists"):
            return attributes.get(name) is not None
        case AttributeTest(attribute=name, op="not_exists"):
            return attributes.get(name) is None
        case AttributeTest(attribute=name, op="ne", value=value):
            return attributes.get(name) != value  # A missing attribute differs from any value.
        case AttributeTest(attribute=name, op=op, value=value):
            return name in attributes and _compare(op, attributes[name], value)
        case InList(list=name):
            return name in facts.lists
        case EventHistory(count=count):
            n = facts.counts[condition]
            return n >= 1 if count is None else count.holds(n)
        case AllOf(all=nodes):
            return all(evaluate(c, facts) for c in nodes)
        case AnyOf(any=nodes):
            return any(evaluate(c, facts) for c in nodes)
        case Not(not_=node):
            return not evaluate(node, facts)
    raise TypeError(f"not a condition: {condition!r}")
