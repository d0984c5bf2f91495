"""What a run carries into continue-as-new is bounded in bytes, and the step
history it hands over lives in the database: the API still returns it whole."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session, func, select

from shared.contracts import EnrollmentState, HistoryChunk, HistoryEntry, MessageRef, carried, event_bytes
from shared.domain.events import Event
from shared.domain.limits import CARRIED_STATE_BYTES, EVENT_LOG_BYTES, MESSAGES_BYTES, SEEN_EVENT_IDS_BYTES
from shared.store import enrollments
from shared.store.db import EnrollmentRow, HistoryRow, Message
from tests.builders import input_bytes
from tests.conftest import Stack
from worker.enrollment import HISTORY_ENTRIES_PER_RUN, LOOP_WINDOW

pytestmark = pytest.mark.workflow

NOW = datetime(2026, 12, 5, tzinfo=UTC)
# About how many messages a run carries over (MESSAGES_BYTES of ids and step ids).
MESSAGES_KEPT = MESSAGES_BYTES // 80


def test_the_state_carried_is_bounded_in_bytes_whatever_a_long_life_left_in_it() -> None:
    long_ids = [f"{i:08d}-" + "i" * 190 for i in range(20_000)]
    # The run saved its history; these came while it was saving.
    tail = [HistoryEntry(step_id="s", outcome="goal_met", at=NOW, detail={"x": "y" * 500})] * 3
    state = EnrollmentState(
        history=tail,
        messages=[MessageRef(message_id=f"msg_{i:020d}", step_id="mail" * 16) for i in range(20_000)],
        seen_event_ids=long_ids,
        event_log=[
            Event(
                id=i, contact_id="c", type="custom", occurred_at=NOW, data={"name": "n", "value": "v" * 5000}
            )
            for i in long_ids[:2000]
        ],
        recent_runs={f"step{i}": [NOW - timedelta(hours=1), NOW - timedelta(minutes=1)] for i in range(50)},
        history_start=7,
        messages_start=3,
    )
    assert len(state.model_dump_json()) > 10 * CARRIED_STATE_BYTES

    carried_over = carried(state, NOW, LOOP_WINDOW)
    assert len(carried_over.model_dump_json()) <= CARRIED_STATE_BYTES
    # The latest of each, and the count of what the database holds instead.
    assert carried_over.history == tail and carried_over.history_start == 7
    assert carried_over.seen_event_ids == long_ids[-len(carried_over.seen_event_ids) :]
    assert len(",".join(carried_over.seen_event_ids)) > SEEN_EVENT_IDS_BYTES * 0.9
    assert carried_over.event_log == state.event_log[-len(carried_over.event_log) :]
    assert 0 < sum(len(e.model_dump_json()) for e in carried_over.event_log) <= EVENT_LOG_BYTES
    assert all(event_bytes(e) >= len(e.model_dump_json()) for e in carried_over.event_log)
    assert carried_over.messages == state.messages[-len(carried_over.messages) :]
    assert carried_over.messages_start == 3 + 20_000 - len(carried_over.messages)
    assert carried_over.recent_runs == {f"step{i}": [NOW - timedelta(minutes=1)] for i in range(50)}


async def minute_loop(stack: Stack, back_to: str, minutes: int) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """An email, a wait of a minute, and back to `back_to`, for `minutes`; then
    removed. The enrollment, its state before the removal, and after."""
    steps = [
        {"id": "mail", "type": "send_email", "subject": "hi", "body": "b"},
        {"id": "pause", "type": "wait", "duration": "PT1M"},
        {"id": "again", "type": "go_to", "target": back_to},
    ]
    enrollment = await stack.enroll(await stack.automation(steps), await stack.contact())
    await stack.at(enrollment, "pause")
    await stack.skip(timedelta(minutes=minutes))
    state = await stack.at(enrollment, "pause")
    removed = (await stack.http.delete(f"/enrollments/{enrollment}")).json()
    assert removed["status"] == "removed"
    return enrollment, state, removed


async def test_a_long_loop_continues_as_new_and_still_reads_its_whole_history(stack: Stack) -> None:
    # Three entries a minute: the run hands its history over past HISTORY_ENTRIES_PER_RUN.
    enrollment, state, removed = await minute_loop(stack, "pause", HISTORY_ENTRIES_PER_RUN // 3 + 30)

    history = [(h["step_id"], h["outcome"]) for h in removed["history"]]
    loops = (len(history) - 3) // 3
    assert loops > HISTORY_ENTRIES_PER_RUN // 3
    assert history == [
        ("mail", "done"), *[("pause", "waiting"), ("pause", "done"), ("again", "done")] * loops,
        ("pause", "waiting"), ("end", "ended"),
    ]  # fmt: skip
    assert [m["step_id"] for m in removed["messages"]] == ["mail"]
    assert len(state["history"]) < len(removed["history"])
    assert (await stack.state(enrollment))["history"] == removed["history"]
    with Session(stack.engine) as session:
        saved = session.exec(select(func.count()).where(HistoryRow.enrollment_id == enrollment)).one()
    assert HISTORY_ENTRIES_PER_RUN <= saved < len(history)
    # The run that carried the rest on started with its state, not with the history.
    assert len(await input_bytes(stack, enrollment)) < 4_000


async def test_a_looping_sender_keeps_every_message_and_invents_no_cut_short_send(stack: Stack) -> None:
    """Runs forget their oldest messages (the outbox has them all): the check
    for sends a crash cut short, at the end, must not take those for missing."""
    enrollment, _, removed = await minute_loop(stack, "mail", MESSAGES_KEPT + 100)
    sends = [h for h in removed["history"] if h["step_id"] == "mail"]
    assert len(sends) > MESSAGES_KEPT and not [h for h in sends if h["detail"].get("cut_short")]
    assert [m["message_id"] for m in removed["messages"]] == [h["detail"]["message_id"] for h in sends]
    with Session(stack.engine) as session:
        outbox = session.exec(select(func.count()).where(Message.enrollment_id == enrollment)).one()
        final = session.get(EnrollmentRow, enrollment)
    assert outbox == len(sends)
    assert final is not None and final.final_state["messages_start"] > 0  # Runs did forget some.


async def test_a_run_saving_history_again_replaces_what_it_saved_before(stack: Stack) -> None:
    """A reset re-runs a run: its save from the same point is the one kept."""
    first = [HistoryEntry(step_id=f"a{i}", outcome="done", at=NOW) for i in range(5)]
    again = [HistoryEntry(step_id=f"b{i}", outcome="done", at=NOW) for i in range(2)]
    with Session(stack.engine) as session:
        enrollments.save_history(session, HistoryChunk(enrollment_id="e.c.1", start=0, entries=first[:3]))
        enrollments.save_history(session, HistoryChunk(enrollment_id="e.c.1", start=3, entries=first[3:]))
        enrollments.save_history(session, HistoryChunk(enrollment_id="e.c.1", start=3, entries=first[3:]))
        enrollments.save_history(session, HistoryChunk(enrollment_id="e.c.1", start=2, entries=again))
        rows = session.exec(
            select(HistoryRow).where(HistoryRow.enrollment_id == "e.c.1").order_by(HistoryRow.n)
        )
        assert [(r.n, r.step_id) for r in rows] == [(0, "a0"), (1, "a1"), (2, "b0"), (3, "b1")]
