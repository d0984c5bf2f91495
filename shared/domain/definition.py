"""Automation definitions (SPEC §1, §2): the step models, the checks a
definition must pass before it is saved, and the plan an enrollment runs."""

import hashlib
import json
from typing import Annotated, Any, ClassVar, Literal

from jinja2 import TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.domain.conditions import Condition
from shared.domain.criteria import CRITERION_TYPES, Criterion, EmailCriterion
from shared.domain.durations import Duration
from shared.domain.limits import STRUCTURE_BYTES, TEMPLATE_BYTES, size
from shared.domain.times import AwareDateTime

StepId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
END = "end"


class _Step(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    # The fields that hold message content. They stay in the database under the
    # immutable (automation, version, step); an enrollment's plan carries their digest.
    CONTENT: ClassVar[tuple[str, ...]] = ()
    # The content fields that are Jinja2 templates.
    TEMPLATES: ClassVar[tuple[str, ...]] = ()

    id: StepId
    # Overrides list order: the step to run after this one.
    next: StepId | None = None


class SendEmail(_Step):
    CONTENT = ("subject", "body", "sender")
    TEMPLATES = ("subject", "body")

    type: Literal["send_email"]
    subject: str = Field(min_length=1)
    body: str = Field(min_length=1)
    sender: str | None = None


class PlannedSend(_Step):
    """A send step as its enrollment sees it: the digest of its content."""

    # Enrollments started before content by reference carry the content itself: accepted, unused.
    model_config = ConfigDict(extra="ignore", frozen=True)

    type: Literal["send_email"]
    # None in those older inputs: their send fetches the content unchecked.
    digest: str | None = None


class Wait(_Step):
    type: Literal["wait"]
    duration: Duration | None = None
    until: AwareDateTime | None = None


class WaitForEvent(_Step):
    type: Literal["wait_for_event"]
    criteria: list[Criterion] = Field(min_length=1)
    timeout: Duration
    on_event: StepId | None = None
    on_timeout: StepId | None = None
    # `enrollment`: an event earlier in this enrollment already satisfies the wait.
    since: Literal["arrival", "enrollment"] = "arrival"


class IfElse(_Step):
    type: Literal["if_else"]
    condition: Condition
    then: StepId | None = None
    else_: StepId | None = Field(default=None, alias="else")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class AddTag(_Step):
    type: Literal["add_tag"]
    tag: str = Field(min_length=1, max_length=200)


class RemoveTag(_Step):
    type: Literal["remove_tag"]
    tag: str = Field(min_length=1, max_length=200)


class UpdateAttribute(_Step):
    type: Literal["update_attribute"]
    attribute: str = Field(min_length=1, max_length=200)
    op: Literal["set", "unset", "increment", "decrement"] = "set"
    value: Any = None


class GoTo(_Step):
    type: Literal["go_to"]
    target: StepId


class Goal(_Step):
    type: Literal["goal"]
    criteria: list[Criterion] = Field(min_length=1)
    if_unmet: Literal["end", "continue", "wait"] = "continue"
    timeout: Duration | None = None
    # A step id, or `end`; by default the contact goes on after the goal.
    on_timeout: StepId | None = None


class End(_Step):
    type: Literal["end"]


Step = Annotated[
    SendEmail | Wait | WaitForEvent | IfElse | AddTag | RemoveTag | UpdateAttribute | GoTo | Goal | End,
    Field(discriminator="type"),
]
STEP_TYPES = (
    "send_email",
    "wait",
    "wait_for_event",
    "if_else",
    "add_tag",
    "remove_tag",
    "update_attribute",
    "go_to",
    "goal",
    "end",
)
# Steps that hold the contact until time passes, so a loop through one cannot spin.
WAITING_TYPES = ("wait", "wait_for_event")


class _Flow(BaseModel):
    """Steps in order, and how to walk them: what a definition and its plan share."""

    steps: list[Any]

    def index(self, step_id: str) -> int:
        return next(i for i, s in enumerate(self.steps) if s.id == step_id)

    def successor(self, position: int) -> int | None:
        """The step that follows `position` when it does not branch; None ends."""
        step = self.steps[position]
        if step.next is not None:
            return None if step.next == END else self.index(step.next)
        return position + 1 if position + 1 < len(self.steps) else None

    def goals(self) -> list[Goal]:
        return [s for s in self.steps if isinstance(s, Goal)]


class Automation(_Flow):
    """One immutable version of an automation's definition."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=200)
    reentry: Literal["never", "after_exit"] = "after_exit"
    steps: list[Step] = Field(min_length=1)


PlannedStep = Annotated[
    PlannedSend | Wait | WaitForEvent | IfElse | AddTag | RemoveTag | UpdateAttribute | GoTo | Goal | End,
    Field(discriminator="type"),
]


class Plan(_Flow):
    """What an enrollment runs: its version's structure (step ids, types,
    successors, criteria, conditions, durations), each step's content by digest.
    It is every enrollment's workflow input, so it stays small (STRUCTURE_BYTES)."""

    # Inputs from before content by reference carry the whole definition: accepted.
    model_config = ConfigDict(extra="ignore", frozen=True)

    steps: list[PlannedStep]


def content_of(step: _Step) -> dict[str, Any]:
    return step.model_dump(mode="json", include=set(step.CONTENT))


def digest(content: dict[str, Any]) -> str:
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def plan_of(automation: Automation) -> Plan:
    steps: list[Any] = []
    for step in automation.steps:
        if step.CONTENT:
            structure = step.model_dump(mode="json", by_alias=True, exclude=set(step.CONTENT))
            step = {**structure, "digest": digest(content_of(step))}
        steps.append(step)
    return Plan.model_validate({"steps": steps})


class Problem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str = "value_error"


class DefinitionError(Exception):
    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(f"{'.'.join(map(str, p.loc))}: {p.msg}" for p in problems))
        self.problems = problems


_templates = SandboxedEnvironment()
_UNION_TAGS = {*STEP_TYPES, *CRITERION_TYPES, "HasTag", "AttributeTest", "AllOf", "AnyOf", "Not"}


def parse_definition(raw: Any) -> Automation:
    """Validate a definition; raise DefinitionError naming each step and field at fault."""
    if isinstance(raw, dict) and isinstance(raw.get("steps"), list):
        problems = _unknown_types(raw["steps"])
        if problems:
            raise DefinitionError(problems)
    try:
        automation = Automation.model_validate(raw)
    except ValidationError as error:
        raise DefinitionError([_problem(raw, e) for e in error.errors()]) from None
    problems = find_problems(automation)
    if problems:
        raise DefinitionError(problems)
    return automation


def _unknown_types(steps: list[Any]) -> list[Problem]:
    return [
        Problem(
            loc=["steps", i, "type"],
            msg=f"step '{s.get('id', i)}': unknown step type '{s.get('type')}'; "
            f"known types: {', '.join(STEP_TYPES)}",
        )
        for i, s in enumerate(steps)
        if isinstance(s, dict) and s.get("type") not in STEP_TYPES
    ]


def _problem(raw: Any, error: Any) -> Problem:
    # Drop pydantic's union tags (step, criterion and condition kinds) from the location.
    loc = [part for part in error["loc"] if part not in _UNION_TAGS]
    msg = error["msg"]
    if len(loc) >= 2 and loc[0] == "steps" and isinstance(loc[1], int):
        step = raw["steps"][loc[1]] if loc[1] < len(raw["steps"]) else {}
        step_id = step.get("id", loc[1]) if isinstance(step, dict) else loc[1]
        msg = f"step '{step_id}': {msg}"
    return Problem(loc=loc, msg=msg, type=error["type"])


def find_problems(automation: Automation) -> list[Problem]:
    """The checks that need the whole definition: ids, jump targets, email goals,
    loops without a wait, and template syntax."""
    problems: list[Problem] = []
    ids: dict[str, int] = {}
    for i, step in enumerate(automation.steps):
        if step.id == END:
            problems.append(Problem(loc=["steps", i, "id"], msg="step 'end': the id 'end' is reserved"))
        elif step.id in ids:
            problems.append(
                Problem(
                    loc=["steps", i, "id"], msg=f"step '{step.id}': duplicate id (also step {ids[step.id]})"
                )
            )
        ids.setdefault(step.id, i)
    send_steps = {s.id for s in automation.steps if isinstance(s, SendEmail)}

    def check_target(i: int, field: str, target: str | None, may_end: bool = True) -> None:
        if target is not None and target not in ids and not (may_end and target == END):
            step = automation.steps[i]
            problems.append(
                Problem(loc=["steps", i, field], msg=f"step '{step.id}': no step '{target}' to go to")
            )

    for i, step in enumerate(automation.steps):
        check_target(i, "next", step.next)
        match step:
            case GoTo():
                check_target(i, "target", step.target, may_end=False)
            case IfElse():
                check_target(i, "then", step.then)
                check_target(i, "else", step.else_)
            case WaitForEvent():
                check_target(i, "on_event", step.on_event)
                check_target(i, "on_timeout", step.on_timeout)
            case Goal():
                check_target(i, "on_timeout", step.on_timeout)
                if step.if_unmet != "wait" and (step.timeout or step.on_timeout):
                    problems.append(
                        Problem(
                            loc=["steps", i, "timeout"],
                            msg=f"step '{step.id}': timeout applies only to if_unmet 'wait'",
                        )
                    )
            case Wait():
                if (step.duration is None) == (step.until is None):
                    problems.append(
                        Problem(
                            loc=["steps", i, "duration"],
                            msg=f"step '{step.id}': give exactly one of duration and until",
                        )
                    )
        problems.extend(_template_problems(i, step))
        if isinstance(step, Goal | WaitForEvent):
            for c, criterion in enumerate(step.criteria):
                if isinstance(criterion, EmailCriterion):
                    for name in criterion.steps:
                        if name not in send_steps:
                            problems.append(
                                Problem(
                                    loc=["steps", i, "criteria", c, "steps"],
                                    msg=f"step '{step.id}': no send_email step '{name}'",
                                )
                            )
    if not problems:
        problems.extend(_spinning_loops(automation))
    if not problems:
        problems.extend(_structure_problems(automation))
    return problems


def _template_problems(i: int, step: _Step) -> list[Problem]:
    problems = []
    for field in step.TEMPLATES:
        template = getattr(step, field)
        length = len(template.encode())
        if length > TEMPLATE_BYTES:
            problems.append(
                Problem(
                    loc=["steps", i, field],
                    msg=f"step '{step.id}': {field} is {length:,} bytes; "
                    f"a template may be at most {size(TEMPLATE_BYTES)}",
                )
            )
            continue
        try:
            _templates.parse(template)
        except TemplateSyntaxError as error:
            problems.append(
                Problem(
                    loc=["steps", i, field],
                    msg=f"step '{step.id}': template error on line {error.lineno}: {error.message}",
                )
            )
    return problems


def _structure_problems(automation: Automation) -> list[Problem]:
    """The plan is every enrollment's workflow input: it must fit comfortably."""
    length = len(plan_of(automation).model_dump_json())
    if length <= STRUCTURE_BYTES:
        return []
    return [
        Problem(
            loc=["steps"],
            msg=f"the automation's structure (its steps without their content) is {length:,} bytes; "
            f"the limit is {size(STRUCTURE_BYTES)}",
        )
    ]


def _edges(automation: Automation, i: int) -> list[tuple[int, str, bool]]:
    """Where step i can lead: (step index, the field that says so, whether the
    contact waits on the way)."""
    step = automation.steps[i]
    waits = step.type in WAITING_TYPES
    branches: list[tuple[str | None, str, bool]]
    match step:
        case End():
            return []
        case GoTo():
            branches = [(step.target, "target", False)]
        case IfElse():
            branches = [(step.then, "then", False), (step.else_, "else", False)]
        case WaitForEvent():
            branches = [(step.on_event, "on_event", True), (step.on_timeout, "on_timeout", True)]
        case Goal():
            # A met goal passes at once; its timeout branch is taken only after waiting.
            branches = [(None, "next", False), (step.on_timeout, "on_timeout", step.if_unmet == "wait")]
        case _:
            branches = [(None, "next", waits)]
    edges = []
    for target, field, waited in branches:
        if target is None:
            following, field = automation.successor(i), "next" if step.next else field
        else:
            following = None if target == END else automation.index(target)
        if following is not None:
            edges.append((following, field, waited or waits))
    return edges


def _spinning_loops(automation: Automation) -> list[Problem]:
    """A cycle that never waits would spin forever."""
    steps = automation.steps
    state = [0] * len(steps)  # 0 new, 1 on the current path, 2 done
    problems: list[Problem] = []

    def visit(i: int, path: list[int]) -> None:
        state[i] = 1
        path.append(i)
        for j, field, waits in _edges(automation, i):
            if waits:
                continue
            if state[j] == 1:
                cycle = [steps[k].id for k in path[path.index(j) :]]
                problems.append(
                    Problem(
                        loc=["steps", i, field],
                        msg=f"step '{steps[i].id}': loop {' -> '.join([*cycle, steps[j].id])} "
                        "never waits and would spin",
                    )
                )
            elif state[j] == 0:
                visit(j, path)
        path.pop()
        state[i] = 2

    for i in range(len(steps)):
        if state[i] == 0:
            visit(i, [])
    return problems
