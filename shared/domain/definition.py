"""Automation definitions (SPEC §1, §2): the checks a definition must pass
before it is saved, and the plan an enrollment runs. Each step type's model
and own checks are in `shared.domain.steps`."""

import hashlib
import json
from typing import Annotated, Any, Literal

from jinja2 import TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from shared.domain.conditions import KINDS as CONDITION_KINDS
from shared.domain.conditions import Condition
from shared.domain.criteria import CRITERION_TYPES
from shared.domain.limits import STRUCTURE_BYTES, TEMPLATE_BYTES, size
from shared.domain.steps import END, STEP_TYPES, Branch, PlannedStep, Problem, Step, StepBase
from shared.domain.steps.goal import Goal
from shared.domain.steps.other_automations import email_address
from shared.domain.triggers import KINDS as TRIGGER_KINDS
from shared.domain.triggers import MAX_TRIGGERS, Trigger
from shared.domain.windows import SendWindow


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


Kind = Literal["automation", "sequence"]
Sender = Annotated[str, Field(max_length=320), AfterValidator(email_address)]


class Automation(_Flow):
    """One immutable version of an automation's definition."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=200)
    # A `sequence` is a sales sequence: its emails go out one to one from its
    # `sender`, and it ends by itself when the contact replies or books a meeting.
    kind: Kind = "automation"
    sender: Sender | None = None
    # Once per contact ever (`never`), or again once the previous enrollment ended.
    # It is also what makes a trigger fire once or every time.
    reentry: Literal["never", "after_exit"] = "after_exit"
    # Any one starts the automation for the event's contact (SPEC §5).
    triggers: list[Trigger] = Field(default=[], max_length=MAX_TRIGGERS)
    # What the contact must meet when a trigger fires, or it does not enter.
    segment: Condition | None = None
    # Messages go out only inside it, in the contact's time zone; sends wait for it.
    send_window: SendWindow | None = None
    steps: list[Step] = Field(min_length=1)


class Plan(_Flow):
    """What an enrollment runs: its version's structure (step ids, types,
    successors, criteria, conditions, durations), each step's content by digest.
    It is every enrollment's workflow input, so it stays small (STRUCTURE_BYTES)."""

    # Inputs from before content by reference carry the whole definition: accepted.
    model_config = ConfigDict(extra="ignore", frozen=True)

    steps: list[PlannedStep]
    send_window: SendWindow | None = None
    # Plans from before kinds are automations'.
    kind: Kind = "automation"
    sender: str | None = None


def content_of(step: StepBase) -> dict[str, Any]:
    content = step.model_dump(mode="json", include=set(step.CONTENT))
    return {k: v for k, v in content.items() if v is not None or k not in step.ADDED_CONTENT}


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
    return Plan.model_validate(
        {
            "steps": steps,
            "send_window": automation.send_window,
            "kind": automation.kind,
            "sender": automation.sender,
        }
    )


class DefinitionError(Exception):
    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(f"{'.'.join(map(str, p.loc))}: {p.msg}" for p in problems))
        self.problems = problems


_templates = SandboxedEnvironment()
_UNION_TAGS = {*STEP_TYPES, *CRITERION_TYPES, *CONDITION_KINDS, *TRIGGER_KINDS}


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


def warnings(automation: Automation) -> list[str]:
    """What is allowed but may surprise: templates that skip some contacts."""
    return [warning for step in automation.steps for warning in step.warnings()]


def find_problems(automation: Automation) -> list[Problem]:
    """The checks that need the whole definition: ids, jump targets, each step
    type's own checks, loops without a wait, template syntax and the structure's size."""
    problems: list[Problem] = []
    ids: dict[str, int] = {}
    for i, step in enumerate(automation.steps):
        if step.id == END:
            problems.append(step.problem(i, "id", "the id 'end' is reserved"))
        elif step.id in ids:
            problems.append(step.problem(i, "id", f"duplicate id (also step {ids[step.id]})"))
        ids.setdefault(step.id, i)
    for i, step in enumerate(automation.steps):
        targets = [Branch(step.next, "next"), *(b for b in step.branches() if b.target is not None)]
        for target, field, _, may_end in targets:
            if target is not None and target not in ids and not (may_end and target == END):
                problems.append(step.problem(i, field, f"no step '{target}' to go to"))
        problems.extend(step.problems(i, automation))
        problems.extend(_template_problems(i, step))
    problems.extend(_kind_problems(automation))
    if not problems:
        problems.extend(_spinning_loops(automation))
    if not problems:
        problems.extend(_structure_problems(automation))
    return problems


def _kind_problems(automation: Automation) -> list[Problem]:
    """A sequence sends from its sender: it needs one, and its emails name none of their own."""
    if automation.kind == "automation":
        if automation.sender is not None:
            return [Problem(loc=["sender"], msg="only a sequence has a sender (kind 'sequence')")]
        return []
    if automation.sender is None:
        return [Problem(loc=["sender"], msg="a sequence needs a sender: the address its emails go out from")]
    return [
        step.problem(i, "sender", "a sequence's emails go out from the sequence's sender")
        for i, step in enumerate(automation.steps)
        if step.SENDS_EMAIL and getattr(step, "sender", None) is not None
    ]


def _template_problems(i: int, step: StepBase) -> list[Problem]:
    problems = []
    for field in step.TEMPLATES:
        template = getattr(step, field)
        if template is None:
            continue
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
    edges = []
    for target, field, waits, _ in step.branches():
        if target is None:
            following, field = automation.successor(i), "next" if step.next else field
        else:
            following = None if target == END else automation.index(target)
        if following is not None:
            edges.append((following, field, waits))
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
