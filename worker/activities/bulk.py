"""The bulk enrollment workflow's activities: a page of contacts entered, and
the end of one that could not go on. They call the services as the API does."""

from collections.abc import Callable
from typing import Any

from temporalio import activity

from shared.contracts import PageInput, PageResult
from shared.services import bulk
from shared.services.context import Services
from worker.activities.base import unbroken

# From this attempt at a page on, a contact whose start keeps failing counts as
# failed instead of failing the page again: the others go on.
COUNT_FAILURES_FROM = 5


class BulkActivities:
    def __init__(self, services: Services):
        self.services = services

    def all(self) -> list[Callable[..., Any]]:
        return [self.enroll_page, self.fail_bulk]

    @activity.defn(name="enroll_page")
    async def enroll_page(self, page: PageInput) -> PageResult:
        count_failures = activity.info().attempt >= COUNT_FAILURES_FROM
        # Heartbeats: a page on a worker that died is tried again within the heartbeat timeout.
        return await unbroken(bulk.enroll_page(self.services, page.bulk_id, page.size, count_failures))

    @activity.defn(name="fail_bulk")
    async def fail_bulk(self, bulk_id: str) -> PageResult:
        return await bulk.fail(self.services, bulk_id)
