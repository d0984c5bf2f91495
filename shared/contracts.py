"""What crosses the workflow boundary: the enrollment's input, its state (which
the `state` query returns and continue-as-new carries), and activity payloads."""

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict
from temporalio.common import SearchAttributeKey

from shared.domain.definition import Plan
from shared.domain.events import Event
from shared.domain.limits import EVENT_LOG_BYTES, MESSAGES_BYTES, SEEN_EVENT_IDS_BYTES

T = TypeVar("T")

EVENT_SIGNAL = "event"
STATE_QUERY = "state"
REMOVE_UPDATE = "remove"
RESUME_SIGNAL = "resume"
WORKFLOW_NAME = "Enrollment"

Status = Literal["running", "completed", "removed", "failed"]


class HistoryEntry(BaseModel):
    step_id: str
    # done | skipped | failed | goal_met | waiting | timed_out | event_matched | branched | ended
    outcome: str
    at: datetime
    detail: dict[str, Any] = {}


class MessageRef(BaseModel):
    message_id: str
    step_id: str
    channel: str = "email"


class Resumed(BaseModel):
    """The `resume` signal: the automation resumed after its pause number
    `pause`, which releases every hold of that pause or an earlier one. The
    pause number is its id: a repeat (the sweep after a resume) changes nothing."""

    pause: int
    # Sends held longer than this are skipped as `stale`; None: all go out.
    stale_after: timedelta | None = None


class PauseHold(BaseModel):
    """The current send is held by the automation's pause number `pause`, since `since`."""

    pause: int
    since: datetime


class EnrollmentState(BaseModel):
    status: Status = "running"
    end_reason: str | None = None
    # Index of the current step; None once the enrollment ended.
    position: int | None = 0
    # The current step was entered and not finished: a wait resumed after
    # continue-as-new must not count as a second run of its step.
    entered: bool = False
    # The current step started holding the contact (a wait, or a goal waiting to be met).
    waiting: bool = False
    # What holds it: None for the step's own wait, "the send window" or "automation paused".
    held_for: str | None = None
    # The automation's pause that holds the current send, and the latest resume received.
    paused_hold: PauseHold | None = None
    resumed: Resumed | None = None
    deadline: datetime | None = None
    goals_met: list[str] = []
    goals_passed: list[str] = []
    # The goal the contact is being pulled to, and the event that met it.
    move_to: str | None = None
    move_event: str | None = None
    history: list[HistoryEntry] = []
    messages: list[MessageRef] = []
    # Runs per step: the n in each step run's idempotency key.
    runs: dict[str, int] = {}
    # Recent run times per step, for the loop budget.
    recent_runs: dict[str, list[datetime]] = {}
    # Event ids already received (bounded), so a redelivery counts once (G10).
    seen_event_ids: list[str] = []
    # Events that counted, one per distinct (type, data), for `since: enrollment`;
    # the latest EVENT_LOG_BYTES of them.
    event_log: list[Event] = []
    # Events received at the current wait_for_event step that matched it.
    wait_matched: str | None = None
    events_received: int = 0
    # How many history entries and messages earlier runs left in the database:
    # `history` and `messages` hold what came after.
    history_start: int = 0
    messages_start: int = 0


def carried(state: EnrollmentState, now: datetime, loop_window: timedelta) -> EnrollmentState:
    """What a run hands to the next one when it continues as new, its history
    saved to the database already: the latest event ids seen, events logged and
    messages sent, each within its budget in bytes (shared.domain.limits). The
    messages are all in the outbox; the latest are kept for email goals (G8)."""
    messages = _latest(state.messages, MESSAGES_BYTES, lambda m: len(m.message_id) + len(m.step_id) + 48)
    recent = {step: [t for t in times if now - t < loop_window] for step, times in state.recent_runs.items()}
    return state.model_copy(
        update={
            "messages": messages,
            "messages_start": state.messages_start + len(state.messages) - len(messages),
            "recent_runs": {step: times for step, times in recent.items() if times},
            "seen_event_ids": _latest(state.seen_event_ids, SEEN_EVENT_IDS_BYTES, lambda i: len(i) + 3),
            "event_log": _latest(state.event_log, EVENT_LOG_BYTES, event_bytes),
        }
    )


def event_bytes(event: Event) -> int:
    """An upper bound of an event's size in JSON. Computed by the standard library,
    so that where the workflow trims its event log never moves with a pydantic release."""
    return len(event.id) + len(event.type) + len(json.dumps(event.data, default=str)) + 96


def _latest(items: list[T], budget: int, cost: Callable[[T], int]) -> list[T]:
    """The longest tail of `items` whose cost fits in `budget`."""
    kept = 0
    for item in reversed(items):
        budget -= cost(item)
        if budget < 0:
            break
        kept += 1
    return items[len(items) - kept :]


class _EntryKind(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ByApi(_EntryKind):
    """Enrolled by hand through the API (every enrollment from before `entered_by`)."""

    api: Literal[True] = True


class ByTrigger(_EntryKind):
    """Started by the event `event_id` firing the automation's trigger number `trigger`."""

    trigger: int
    event_id: str


class ByBulk(_EntryKind):
    bulk_id: str


class ByAutomation(_EntryKind):
    """Started by another automation's enrollment (a `start_automation` step)."""

    automation: str
    enrollment_id: str


EnteredBy = ByTrigger | ByApi | ByBulk | ByAutomation


class RegisterInput(BaseModel):
    """Who is enrolled where, since when, and what started it: what the enrollment's row records."""

    enrollment_id: str
    automation_id: str
    version: int
    contact_id: str
    seq: int
    enrolled_at: datetime
    entered_by: EnteredBy = ByApi()


class EnrollmentInput(RegisterInput):
    # The pinned version's structure; content stays in the database.
    automation: Plan
    # Event ids that count as seen from the start: the one that fired the trigger
    # that started it, which meets none of its goals (G15) even when it reaches
    # the enrollment, by the catch-up read at start or a late delivery.
    seen: list[str] = []
    # Set when the enrollment continues as new.
    state: EnrollmentState | None = None
    # How long a step that talks to the network (a send) may take, its retries
    # included (GOALFLOW_SEND_TIMEOUT, read where the enrollment starts).
    send_timeout: timedelta = timedelta(minutes=15)
    # A sequence's enrollment: the sender its emails go out from, when the step
    # that enrolled it named one (`enroll_in_sequence`); None: the sequence's own.
    sender: str | None = None


class EnrollmentView(BaseModel):
    """What `GET /enrollments/{id}` returns."""

    enrollment_id: str
    automation_id: str
    version: int
    contact_id: str
    status: Status
    end_reason: str | None
    current_step: str | None
    goals_met: list[str]
    messages: list[MessageRef]
    history: list[HistoryEntry]
    events_received: int = 0
    entered_by: EnteredBy = ByApi()


class EnrollmentSnapshot(EnrollmentView):
    """What the workflow answers and saves: its view, with the history entries
    and messages that earlier runs left in the database counted, not carried."""

    history_start: int = 0
    messages_start: int = 0

    @property
    def complete(self) -> bool:
        """Whether it holds the whole history and every message."""
        return not (self.history_start or self.messages_start)

    def view(self, **changes: Any) -> EnrollmentView:
        fields = {name: getattr(self, name) for name in EnrollmentView.model_fields}
        return EnrollmentView.model_construct(**{**fields, **changes})


class HistoryChunk(BaseModel):
    """History entries start.. of an enrollment, saved before it continues as new."""

    enrollment_id: str
    start: int
    entries: list[HistoryEntry]


class SentMessagesInput(BaseModel):
    enrollment_id: str
    # The oldest messages, which the enrollment recorded and then forgot.
    skip: int = 0


class FinishInput(BaseModel):
    view: EnrollmentSnapshot


# Custom search attributes, registered with the server by `make run` and the tests.
AUTOMATION_ID = SearchAttributeKey.for_keyword("AutomationId")
AUTOMATION_VERSION = SearchAttributeKey.for_int("AutomationVersion")
CONTACT_ID = SearchAttributeKey.for_keyword("ContactId")
CURRENT_STEP = SearchAttributeKey.for_keyword("CurrentStep")
GOALS_MET = SearchAttributeKey.for_keyword_list("GoalsMet")
SEARCH_ATTRIBUTES = (AUTOMATION_ID, AUTOMATION_VERSION, CONTACT_ID, CURRENT_STEP, GOALS_MET)


# Bulk enrollments: one workflow each, on a task queue of their own.
BULK_WORKFLOW_NAME = "BulkEnrollment"
# Sent on resume (and cancel): a paused bulk enrollment reads its status again at once.
BULK_WAKE_SIGNAL = "wake"


def bulk_task_queue(task_queue: str) -> str:
    """Where bulk enrollments run, beside the enrollments of `task_queue`."""
    return f"{task_queue}-bulk"


class BulkInput(BaseModel):
    """What a bulk enrollment's workflow carries: its id; the rest is in its row."""

    bulk_id: str
    # Contacts per second at most; None: as fast as it goes.
    rate: float | None = None


class PageInput(BaseModel):
    bulk_id: str
    size: int


class PageResult(BaseModel):
    """Where a bulk enrollment stands after a page."""

    status: str
    matched: int
    enrolled: int
    skipped: int
    failed: int
    # Contacts this page read (0 when it was not running).
    read: int = 0
