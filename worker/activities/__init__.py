"""The activity side: every activity the worker runs. The step types that do
I/O each list their group here, one line each (`docs/adding-a-step.md`)."""

from collections.abc import Callable
from typing import Any

from worker.activities.base import ActivityGroup, Deps
from worker.activities.blocklist import BlocklistActivities
from worker.activities.contacts import ContactActivities
from worker.activities.conversions import ConversionActivities
from worker.activities.deals import DealActivities
from worker.activities.enrollment import EnrollmentActivities
from worker.activities.lists import ListActivities
from worker.activities.notify import NotifyActivities
from worker.activities.other_automations import OtherAutomationActivities
from worker.activities.owners import OwnerActivities
from worker.activities.send_email import SendEmailActivities
from worker.activities.send_text import TextActivities
from worker.activities.tags import TagActivities
from worker.activities.tasks import TaskActivities
from worker.activities.update_attribute import AttributeActivities
from worker.activities.webhook import WebhookActivities

GROUPS: tuple[type[ActivityGroup], ...] = (
    EnrollmentActivities,
    ContactActivities,
    SendEmailActivities,
    TextActivities,
    NotifyActivities,
    TagActivities,
    AttributeActivities,
    OtherAutomationActivities,
    ListActivities,
    BlocklistActivities,
    ConversionActivities,
    WebhookActivities,
    DealActivities,
    TaskActivities,
    OwnerActivities,
)


def activities(deps: Deps) -> list[Callable[..., Any]]:
    return [activity for group in GROUPS for activity in group(deps).all()]


__all__ = ["Deps", "activities"]
