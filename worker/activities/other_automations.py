"""The steps that reach into another automation: each activity asks the
service, which enters or ends the other enrollment once per step run."""

from collections.abc import Callable
from typing import Any

from temporalio import activity

from shared.services import other_automations
from shared.services.context import Services
from shared.services.other_automations import FromStep
from worker.activities.base import ActivityGroup
from worker.steps.other_automations import OtherAutomationInput, OtherAutomationResult


class OtherAutomationActivities(ActivityGroup):
    def all(self) -> list[Callable[..., Any]]:
        return [
            self.start_automation,
            self.enroll_in_sequence,
            self.remove_from_automation,
            self.unenroll_from_sequence,
        ]

    @property
    def services(self) -> Services:
        # Starting an enrollment takes Temporal and the task queue enrollments run on.
        assert self.deps.services is not None, "the worker's Deps carry its Services"
        return self.deps.services

    @activity.defn(name="start_automation")
    async def start_automation(self, step: OtherAutomationInput) -> OtherAutomationResult:
        return await self._enter(step)

    @activity.defn(name="enroll_in_sequence")
    async def enroll_in_sequence(self, step: OtherAutomationInput) -> OtherAutomationResult:
        return await self._enter(step)

    @activity.defn(name="remove_from_automation")
    async def remove_from_automation(self, step: OtherAutomationInput) -> OtherAutomationResult:
        return await self._leave(step)

    @activity.defn(name="unenroll_from_sequence")
    async def unenroll_from_sequence(self, step: OtherAutomationInput) -> OtherAutomationResult:
        return await self._leave(step)

    async def _enter(self, step: OtherAutomationInput) -> OtherAutomationResult:
        outcome = await other_automations.enter(self.services, _from(step), step.sender)
        return OtherAutomationResult.model_validate(outcome.model_dump())

    async def _leave(self, step: OtherAutomationInput) -> OtherAutomationResult:
        outcome = await other_automations.leave(self.services, _from(step))
        return OtherAutomationResult.model_validate(outcome.model_dump())


def _from(step: OtherAutomationInput) -> FromStep:
    return FromStep(**step.model_dump(exclude={"sender"}))
