"""What every step type shares: its id and `next`, the fields that hold content,
where it can lead, and a place for its own definition checks."""

from typing import Annotated, Any, ClassVar, NamedTuple, Protocol

from pydantic import BaseModel, ConfigDict, Field, create_model

from shared.domain.criteria import EmailCriterion, SmsCriterion

StepId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
END = "end"


class Problem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str = "value_error"


class Branch(NamedTuple):
    """A way out of a step: to `target` (None: the step that follows; `end`),
    named by `field`, and whether the contact waits on the way."""

    target: str | None
    field: str
    waits: bool = False
    # False where the field must name a step (`go_to`'s target).
    may_end: bool = True


class Flow(Protocol):
    """The whole definition, as a step's own checks see it."""

    steps: list[Any]

    def index(self, step_id: str) -> int: ...


class StepBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    # The fields that hold message content. They stay in the database under the
    # immutable (automation, version, step); an enrollment's plan carries their digest.
    CONTENT: ClassVar[tuple[str, ...]] = ()
    # The content fields that are Jinja2 templates.
    TEMPLATES: ClassVar[tuple[str, ...]] = ()
    # Content fields added after versions were saved: left out of the digest while
    # unset, so that the enrollments of those versions keep theirs.
    ADDED_CONTENT: ClassVar[tuple[str, ...]] = ()
    # Whether a message this step sends can meet an email criterion (G8).
    SENDS_EMAIL: ClassVar[bool] = False
    # Whether a message this step sends can meet an sms criterion (SMS or WhatsApp).
    SENDS_TEXT: ClassVar[bool] = False

    id: StepId
    # Overrides list order: the step to run after this one.
    next: StepId | None = None

    def branches(self) -> list[Branch]:
        """Where the step can lead. By default to the step that follows, at once."""
        return [Branch(None, "next")]

    def problems(self, position: int, flow: Flow) -> list[Problem]:
        """The step's own checks that need the whole definition; its fields are valid."""
        return []

    def warnings(self) -> list[str]:
        """What may make the step skip for some contacts, said when the definition is saved."""
        return []

    def problem(self, position: int, field: str | int, msg: str, *loc: str | int) -> Problem:
        return Problem(loc=["steps", position, field, *loc], msg=f"step '{self.id}': {msg}")


class Planned(StepBase):
    """A step with content as its enrollment's plan holds it: its structure and
    the digest of its content (`shared.domain.definition.plan_of`)."""

    # Enrollments started before content by reference carry the content itself: accepted, unused.
    model_config = ConfigDict(extra="ignore", frozen=True)
    # None in those older inputs: their step fetches the content unchecked.
    digest: str | None = None


def planned(model: type[StepBase]) -> type[StepBase]:
    """The model a plan holds of a step type: the step's own, or without its content."""
    if not model.CONTENT:
        return model
    structure = {
        name: (field.annotation, field)
        for name, field in model.model_fields.items()
        if name not in model.CONTENT and name not in StepBase.model_fields
    }
    return create_model(  # type: ignore[call-overload,no-any-return]
        f"Planned{model.__name__}", __base__=Planned, __module__=model.__module__, **structure
    )


def criteria_problems(step: StepBase, position: int, flow: Flow, criteria: list[Any]) -> list[Problem]:
    """An email criterion names send_email steps of this definition; an sms one,
    send_sms or send_whatsapp steps."""
    emails = {s.id for s in flow.steps if s.SENDS_EMAIL}
    texts = {s.id for s in flow.steps if s.SENDS_TEXT}
    problems = []
    for c, criterion in enumerate(criteria):
        if isinstance(criterion, EmailCriterion):
            known, kind = emails, "send_email"
        elif isinstance(criterion, SmsCriterion):
            known, kind = texts, "send_sms or send_whatsapp"
        else:
            continue
        problems += [
            step.problem(position, "criteria", f"no {kind} step '{name}'", c, "steps")
            for name in criterion.steps
            if name not in known
        ]
    return problems
