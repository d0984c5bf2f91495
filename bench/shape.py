"""What each part of an enrollment's workflow shape costs the Temporal server.

    python -m bench.shape [N] [ROUNDS]

Raw Temporal's trivial workflow (one local activity, then a wait on a
condition), then the same with one of goalflow's parts added, then with all of
them, as an enrollment's first task has them: the five search attributes and
the static summary at start, the `CurrentStep` upsert at the wait, a second
local activity, the 30-day timer. N workflows per variant (default 2,000),
each variant on a fresh stack, the variants taken in turn ROUNDS times
(default 2). Prints first tasks/s and the dev server's CPU per workflow.
"""

import argparse
import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from bench.harness import Bench, bounded, machine
from shared.contracts import AUTOMATION_ID, AUTOMATION_VERSION, CONTACT_ID, CURRENT_STEP, GOALS_MET
from shared.settings import settings

QUEUE = "shape"
VARIANTS: dict[str, set[str]] = {
    "raw": set(),
    "+ search attributes, summary": {"attributes"},
    "+ upsert at the wait": {"upsert"},
    "+ second local activity": {"second_activity"},
    "+ 30-day timer": {"timer"},
    "goalflow's shape (all)": {"attributes", "upsert", "second_activity", "timer"},
}
first_tasks = 0


@activity.defn(name="shape_mark")
def mark(first: bool) -> None:
    global first_tasks
    first_tasks += first


@workflow.defn(name="Shape")
class Shape:
    def __init__(self) -> None:
        self.moved = False

    @workflow.run
    async def run(self, parts: list[str]) -> None:
        for i in range(2 if "second_activity" in parts else 1):
            await workflow.execute_local_activity(mark, i == 0, start_to_close_timeout=timedelta(seconds=30))
        if "upsert" in parts:
            workflow.upsert_search_attributes([CURRENT_STEP.value_set("pause"), GOALS_MET.value_set([])])
        timeout = timedelta(days=30) if "timer" in parts else None
        try:
            await workflow.wait_condition(lambda: self.moved, timeout=timeout)
        except TimeoutError:
            pass

    @workflow.signal
    def move(self) -> None:
        self.moved = True


async def measure(parts: set[str], count: int) -> tuple[float, float]:
    global first_tasks
    first_tasks = 0
    with Bench() as bench:
        client = await bench.goalflow_client()
        async with Worker(
            client, task_queue=QUEUE, workflows=[Shape], activities=[mark],
            activity_executor=ThreadPoolExecutor(4), workflow_runner=UnsandboxedWorkflowRunner(),
            max_cached_workflows=settings().workflow_cache,
        ):  # fmt: skip

            async def start(i: int) -> None:
                options: dict[str, Any] = {}
                if "attributes" in parts:
                    options["search_attributes"] = TypedSearchAttributes([
                        SearchAttributePair(AUTOMATION_ID, "shape"), SearchAttributePair(AUTOMATION_VERSION, 1),
                        SearchAttributePair(CONTACT_ID, f"c{i}"), SearchAttributePair(CURRENT_STEP, "welcome"),
                        SearchAttributePair(GOALS_MET, []),
                    ])  # fmt: skip
                    options["static_summary"] = f"shape v1 · contact c{i}"
                await client.start_workflow(Shape.run, sorted(parts), id=f"s{i}", task_queue=QUEUE, **options)

            cpu = bench.cpu_seconds()["temporal"]
            began = time.perf_counter()
            await bounded(count, 32, start)
            while first_tasks < count:
                await asyncio.sleep(0.05)
            rate = count / (time.perf_counter() - began)
            return rate, (bench.cpu_seconds()["temporal"] - cpu) / count * 1000


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("count", nargs="?", type=int, default=2000)
    parser.add_argument("rounds", nargs="?", type=int, default=2)
    args = parser.parse_args()
    print(
        f"workflow shape: {args.count} workflows per variant, {args.rounds} rounds; {machine()}", flush=True
    )
    for round_ in range(1, args.rounds + 1):
        for name, parts in VARIANTS.items():
            rate, server_ms = await measure(parts, args.count)
            print(f"  round {round_}  {name:<30} {rate:6.1f} first tasks/s   server {server_ms:5.1f} ms/workflow",
                  flush=True)  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
