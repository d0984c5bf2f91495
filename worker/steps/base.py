"""What a step's workflow handler gets from the enrollment that runs it. A
handler runs inside the workflow: it is deterministic, imports only the domain
and the workflow contracts, and does its I/O through `local` (an activity)."""

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, Protocol, TypeVar

from temporalio.common import RetryPolicy

from shared.contracts import EnrollmentInput, EnrollmentState
from shared.domain.definition import Plan
from shared.domain.events import Event

T = TypeVar("T")


class Enrollment(Protocol):
    input: EnrollmentInput
    automation: Plan
    state: EnrollmentState

    async def local(self, name: str, arg: Any, result_type: type[T], step: Any = None) -> T:
        """Run activity `name`, its summary naming `step` in the Temporal UI."""
        ...

    async def remote(
        self,
        name: str,
        arg: Any,
        result_type: type[T],
        step: Any,
        within: timedelta,
        retry_policy: RetryPolicy = ...,
        attempt: timedelta = ...,
    ) -> T | None:
        """Run activity `name` as a regular activity, retried for `within` at most
        (and as `retry_policy` says), each attempt bounded by `attempt`; None when
        a goal pull or a removal abandoned it."""
        ...

    def patched(self, patch_id: str) -> bool:
        """Whether the run takes the path behind `patch_id`: in place of
        `workflow.patched`, which asked here could be answered differently on
        replay (`EnrollmentWorkflow.__init__`)."""
        ...

    def key(self, step: Any) -> str:
        """The idempotency key of this run of `step`."""
        ...

    def record(self, step_id: str, outcome: str, **detail: Any) -> None:
        """Add an entry to the enrollment's history."""
        ...

    def after(self, step: Any) -> int | None:
        """The position of the step that follows `step`; None ends."""
        ...

    def branch(self, step: Any, target: str | None) -> int | None:
        """The position `target` names (`end`: None), or the step that follows when None."""
        ...

    def start_holding(self, step: Any, until: str | None, held_for: str | None = None) -> None:
        """Record that the contact now waits at `step`, or is held there `held_for` a reason."""
        ...

    async def hold(self, step: Any, done: Callable[[], bool] = ...) -> bool:
        """Hold the contact until the state's deadline (True), or until a goal
        pulls it away, it is removed or `done` holds (False)."""
        ...

    def interrupted(self) -> bool:
        """Whether a goal pull or a removal is pending."""
        ...

    def end(self, status: str, reason: str) -> None: ...

    def on_event(self, event: Event) -> None:
        """Apply an event as if it had been signalled."""
        ...


# Runs one step; returns the position to go on at, None to end (or when pulled away).
Handler = Callable[[Enrollment, Any], Awaitable[int | None]]
