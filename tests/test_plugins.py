"""The step registries agree: every step type the domain knows has a handler in
the worker, and every activity a handler or the interpreter calls is registered."""

import inspect
import re

import pytest
from temporalio import activity

import worker.enrollment
from shared.domain.steps import STEP_TYPES
from worker.activities import Deps, activities
from worker.steps import HANDLERS

pytestmark = pytest.mark.unit


def test_every_step_type_has_a_handler() -> None:
    assert sorted(HANDLERS) == sorted(STEP_TYPES)


def test_every_activity_the_workflow_calls_is_registered() -> None:
    sources = [inspect.getsource(worker.enrollment)] + [
        inspect.getsource(inspect.getmodule(handler))
        for handler in HANDLERS.values()  # type: ignore[arg-type]
    ]
    # A step's activity runs through `local`, `remote`, or a send's `deliver`.
    calls = r'(?:local|remote)\(\s*"(\w+)"|deliver\(\s*\w+,\s*\w+,\s*"(\w+)"'
    called = {name for source in sources for found in re.findall(calls, source) for name in found if name}
    registered = [
        activity._Definition.must_from_callable(fn).name
        for fn in activities(Deps(engine=None, bus=None, outbox=None))  # type: ignore[arg-type]
    ]
    assert len(registered) == len(set(registered))
    assert called == set(registered)
