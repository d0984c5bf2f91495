"""What crosses the workflow boundary: the enrollment's input, its state (which
the `state` query returns and continue-as-new carries), and activity payloads."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel
from temporalio.common import SearchAttributeKey

from shared.definition import Automation
from shared.events import Event

EVENT_SIGNAL = "event"
STATE_QUERY = "state"
REMOVE_UPDATE = "remove"
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
    # Events that counted, one per distinct (type, data), for `since: enrollment`.
    event_log: list[Event] = []
    # Events received at the current wait_for_event step that matched it.
    wait_matched: str | None = None
    events_received: int = 0


class RegisterInput(BaseModel):
    """Who is enrolled where, since when: what the enrollment's row records."""

    enrollment_id: str
    automation_id: str
    version: int
    contact_id: str
    seq: int
    enrolled_at: datetime


class EnrollmentInput(RegisterInput):
    automation: Automation
    # Set when the enrollment continues as new.
    state: EnrollmentState | None = None


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


class ContactSnapshot(BaseModel):
    tags: list[str]
    attributes: dict[str, Any]


class SendEmailInput(BaseModel):
    key: str
    enrollment_id: str
    step_id: str
    contact_id: str
    subject: str
    body: str
    sender: str | None = None


class SendResult(BaseModel):
    message_id: str | None = None
    skipped: str | None = None


class TagInput(BaseModel):
    key: str
    contact_id: str
    tag: str
    add: bool
    # The enrollment running the step: it applies the event from the result, so
    # it is not signalled. None in runs recorded before that (`tag-events-applied-here`).
    enrollment_id: str | None = None


class TagResult(BaseModel):
    changed: bool
    events: list[Event]


class AttributeInput(BaseModel):
    key: str
    contact_id: str
    attribute: str
    op: Literal["set", "unset", "increment", "decrement"]
    value: Any = None


class FinishInput(BaseModel):
    view: EnrollmentView


# Custom search attributes, registered with the server by `make run` and the tests.
AUTOMATION_ID = SearchAttributeKey.for_keyword("AutomationId")
AUTOMATION_VERSION = SearchAttributeKey.for_int("AutomationVersion")
CONTACT_ID = SearchAttributeKey.for_keyword("ContactId")
CURRENT_STEP = SearchAttributeKey.for_keyword("CurrentStep")
GOALS_MET = SearchAttributeKey.for_keyword_list("GoalsMet")
SEARCH_ATTRIBUTES = (AUTOMATION_ID, AUTOMATION_VERSION, CONTACT_ID, CURRENT_STEP, GOALS_MET)
