"""The enrollment's own activities: its row, the events it missed before it
started, its saved history and final state, and the messages its sends left."""

from collections.abc import Callable
from typing import Any

from temporalio import activity

from shared.contracts import FinishInput, HistoryChunk, MessageRef, RegisterInput, SentMessagesInput
from shared.domain.events import Event
from shared.store import enrollments
from worker.activities.base import ActivityGroup


class EnrollmentActivities(ActivityGroup):
    def all(self) -> list[Callable[..., Any]]:
        return [self.register_enrollment, self.sent_messages, self.save_history, self.finish_enrollment]

    @activity.defn(name="register_enrollment")
    async def register_enrollment(self, entry: RegisterInput) -> list[Event]:
        return await self.db(lambda s: enrollments.register(s, entry))

    @activity.defn(name="sent_messages")
    async def sent_messages(self, asked: SentMessagesInput) -> list[MessageRef]:
        return await self.db(lambda s: enrollments.sent_messages(s, asked.enrollment_id, skip=asked.skip))

    @activity.defn(name="save_history")
    async def save_history(self, chunk: HistoryChunk) -> None:
        await self.db(lambda s: enrollments.save_history(s, chunk))

    @activity.defn(name="finish_enrollment")
    async def finish_enrollment(self, done: FinishInput) -> None:
        await self.db(lambda s: enrollments.finish(s, done.view))
