"""Replays checked-in histories (tests/record_histories.py) with today's
workflow code, in the strict sandbox: a change that would break enrollments
already running fails here."""

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from shared.temporal import data_converter
from worker.bulk import BulkEnrollmentWorkflow
from worker.enrollment import EnrollmentWorkflow

pytestmark = pytest.mark.unit

HISTORIES = {p.stem: p.read_text() for p in sorted((Path(__file__).parent / "histories").glob("*.json"))}


def test_histories_are_checked_in() -> None:
    assert len(HISTORIES) >= 3


@pytest.mark.parametrize("name", HISTORIES)
async def test_replay(name: str) -> None:
    history = WorkflowHistory.from_json(name, HISTORIES[name])
    replayer = Replayer(workflows=[EnrollmentWorkflow, BulkEnrollmentWorkflow], data_converter=data_converter)
    await replayer.replay_workflow(history)
