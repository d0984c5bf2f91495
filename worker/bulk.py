"""The bulk enrollment workflow: asks for one page of contacts at a time
(`shared.services.bulk.enroll_page`) until the last, pausing while its bulk
enrollment is paused, at most at its `rate`, and continuing as new every
PAGES_PER_RUN pages. Its progress is in its current details in the Temporal UI;
its cursor and counts are in the database, so its inputs stay one id."""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from shared.contracts import BULK_WAKE_SIGNAL, BULK_WORKFLOW_NAME, BulkInput, PageInput, PageResult
    from shared.domain.bulk import FINAL

# Contacts per page: each page is one activity, one commit of the cursor and counts.
PAGE = 200
# Far below Temporal's limits: a run's history grows by about 8 events a page.
PAGES_PER_RUN = 500
# A paused bulk enrollment reads its status this often, besides when woken.
PAUSED_CHECK = timedelta(minutes=1)
# A page's attempts before the bulk enrollment is recorded failed (about 30 minutes of retries).
PAGE_ATTEMPTS = 40
PAGE_RETRY = RetryPolicy(maximum_interval=timedelta(minutes=1), maximum_attempts=PAGE_ATTEMPTS)


@workflow.defn(name=BULK_WORKFLOW_NAME)
class BulkEnrollmentWorkflow:
    def __init__(self) -> None:
        self._woken = False

    @workflow.signal(name=BULK_WAKE_SIGNAL)
    def wake(self) -> None:
        self._woken = True

    @workflow.run
    async def run(self, input: BulkInput) -> PageResult:
        size = PAGE if input.rate is None else max(1, min(PAGE, int(input.rate)))
        for _ in range(PAGES_PER_RUN):
            began = workflow.now()
            try:
                result = await workflow.execute_activity(
                    "enroll_page",
                    PageInput(bulk_id=input.bulk_id, size=size),
                    result_type=PageResult,
                    start_to_close_timeout=timedelta(minutes=10),
                    heartbeat_timeout=timedelta(seconds=20),
                    retry_policy=PAGE_RETRY,
                    summary=f"next {size} contacts",
                )
            except ActivityError:
                result = await workflow.execute_activity(
                    "fail_bulk",
                    input.bulk_id,
                    result_type=PageResult,
                    start_to_close_timeout=timedelta(seconds=30),
                )
            workflow.set_current_details(_progress(result))
            if result.status in FINAL:
                return result
            if result.status == "paused":
                self._woken = False
                try:
                    await workflow.wait_condition(lambda: self._woken, timeout=PAUSED_CHECK)
                except TimeoutError:
                    pass
                continue
            if input.rate is not None:
                spent = (workflow.now() - began).total_seconds()
                if spent < result.read / input.rate:
                    await workflow.sleep(result.read / input.rate - spent)
        workflow.continue_as_new(input)


def _progress(result: PageResult) -> str:
    return (
        f"**{result.status}** · {result.matched} matched: {result.enrolled} enrolled, "
        f"{result.skipped} skipped, {result.failed} failed"
    )
