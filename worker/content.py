"""Step content by reference: a send fetches its step's content from the
immutable (automation, version, step) in the database, checks it against the
digest in the enrollment's plan, and keeps it compiled in the worker. A version
never changes, so retries and replays see the same content."""

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import Template
from pydantic import TypeAdapter
from sqlalchemy.engine import Engine
from sqlmodel import Session

from shared.db import AutomationVersion
from shared.definition import Step, content_of, digest
from worker.email import compile_template

_STEP: TypeAdapter[Any] = TypeAdapter(Step)
# Steps whose content is kept compiled. Templates are at most 1 MiB each
# (shared.limits); the realistic ones are about 100 KB.
CACHED_STEPS = 128


class ContentMismatch(Exception):
    pass


@dataclass(frozen=True)
class StepContent:
    digest: str
    fields: dict[str, Any]
    templates: dict[str, Template]


def step_content(
    session: Session, automation_id: str, version: int, step_id: str, expected: str | None
) -> StepContent:
    """The content of a step, checked against `expected` (its digest in the
    plan; None for enrollments started before content by reference)."""
    content = _load(session.get_bind(), automation_id, version, step_id)  # type: ignore[arg-type]
    if expected is not None and content.digest != expected:
        raise ContentMismatch(
            f"the content of step '{step_id}' in {automation_id} v{version} is not the one this "
            f"enrollment was started with (digest {content.digest}, expected {expected})"
        )
    return content


@lru_cache(maxsize=CACHED_STEPS)
def _load(engine: Engine, automation_id: str, version: int, step_id: str) -> StepContent:
    with Session(engine) as session:
        row = session.get(AutomationVersion, (automation_id, version))
        raw = next((s for s in row.definition["steps"] if s["id"] == step_id), None) if row else None
    if raw is None:
        raise ContentMismatch(f"no step '{step_id}' in {automation_id} v{version}")
    step = _STEP.validate_python(raw)
    fields = content_of(step)
    return StepContent(
        digest=digest(fields),
        fields=fields,
        templates={name: compile_template(fields[name]) for name in step.TEMPLATES},
    )
