"""Step content by reference: a send fetches its step's content from the
immutable (automation, version, step) in the database, checks it against the
digest in the enrollment's plan, and keeps it compiled in the worker. A version
never changes, so retries and replays see the same content."""

from dataclasses import dataclass
from typing import Any

from jinja2 import Template
from pydantic import TypeAdapter
from sqlalchemy.engine import Engine
from sqlmodel import Session

from shared.domain.definition import content_of, digest
from shared.domain.limits import MiB
from shared.domain.steps import Step
from shared.store.cache import PerEngine
from shared.store.db import AutomationVersion
from worker.email import compile_template

_STEP: TypeAdapter[Any] = TypeAdapter(Step)
# A template compiled weighs about 2.5 times its source, kept too (tracemalloc,
# 100 KB of HTML): 64 MiB hold some 180 steps of 100 KB emails.
CONTENT_CACHE_BYTES = 64 * MiB
_WEIGHT_PER_CHAR = 3.5
_cache: PerEngine[tuple[str, int, str], "StepContent"] = PerEngine(CONTENT_CACHE_BYTES)


class ContentMismatch(Exception):
    pass


@dataclass(frozen=True)
class StepContent:
    digest: str
    fields: dict[str, Any]
    templates: dict[str, Template]


def step_content(
    engine: Engine, automation_id: str, version: int, step_id: str, expected: str | None
) -> StepContent:
    """The content of a step, checked against `expected` (its digest in the
    plan; None for enrollments started before content by reference)."""
    key = (automation_id, version, step_id)
    content = _cache(engine).get(key, lambda: _load(engine, automation_id, version, step_id))
    if expected is not None and content.digest != expected:
        raise ContentMismatch(
            f"the content of step '{step_id}' in {automation_id} v{version} is not the one this "
            f"enrollment was started with (digest {content.digest}, expected {expected})"
        )
    return content


def _load(engine: Engine, automation_id: str, version: int, step_id: str) -> tuple[StepContent, int]:
    with Session(engine) as session:
        row = session.get(AutomationVersion, (automation_id, version))
        raw = next((s for s in row.definition["steps"] if s["id"] == step_id), None) if row else None
    if raw is None:
        raise ContentMismatch(f"no step '{step_id}' in {automation_id} v{version}")
    step = _STEP.validate_python(raw)
    fields = content_of(step)
    content = StepContent(
        digest=digest(fields),
        fields=fields,
        templates={
            name: compile_template(fields[name]) for name in step.TEMPLATES if fields.get(name) is not None
        },
    )
    return content, int(sum(len(fields.get(name) or "") for name in step.TEMPLATES) * _WEIGHT_PER_CHAR)
