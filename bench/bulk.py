"""Bulk enrollment: N contacts on a list put into an automation whose first
step waits P30D, on one stack.

1. Alone: contacts entered per second, until the last enrollment's first task
   ran, against raw `start_workflow` of a trivial waiting workflow whose first
   task writes one row (bench.raw's RawWaiter, 16 starts in flight), in the same run.
2. With live traffic: the goal latency of live contacts (a tag moves each to
   its goal; 20 contacts at once, a round every 2 s, 150 rounds) while a
   second bulk enrollment of N runs, against 10 rounds with nothing else
   running; and the bulk rate that leaves (enrolled during the rounds).
3. How long 100,000 contacts would take at those rates, and the worker's and
   the server's RSS at the end.

    python -m bench.bulk [N] [--priority 1-5] [--bulk-yield R] [--database-url URL]

`--priority` and `--bulk-yield` set GOALFLOW_BULK_PRIORITY (5, the default:
bulk tasks after live ones; 3: the same as live) and GOALFLOW_BULK_YIELD (3,
the default; 0: no yielding) for the stack, to measure what each buys.
"""

import argparse
import asyncio
import os
import time
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session
from temporalio.client import Client

from bench.goal_latency import Sampler, goalflow_waiting
from bench.harness import RAW_QUEUE, Bench, Http, bounded, machine, percentiles, row, wait_until
from shared.store.db import Contact, ListMember, make_engine

HOLD = {"name": "bulk", "steps": [{"id": "hold", "type": "wait", "duration": "P30D"}]}
WAITING = {"name": "live", "steps": [
    {"id": "pause", "type": "wait", "duration": "P30D"},
    {"id": "bought", "type": "goal", "criteria": [{"type": "tag.added", "tag": "bought"}]},
    {"id": "after", "type": "wait", "duration": "P30D"},
]}  # fmt: skip
# Live contacts moved at once, a round every ROUND_EVERY seconds.
LIVE = 20
ROUND_EVERY = 2.0
IDLE_ROUNDS = 10
# Live rounds while the second bulk enrollment runs; it is cancelled after them.
BUSY_ROUNDS = 150
IN_FLIGHT = 16


def add_list(bench: Bench, list_id: str, prefix: str, count: int) -> None:
    """`count` contacts on the list, written straight to the database: the API's
    contact route is not what is measured."""
    engine = make_engine(bench.stack.env()["GOALFLOW_DATABASE_URL"])
    now = datetime.now(UTC)
    with Session(engine) as session:
        for first in range(0, count, 5000):
            ids = [f"{prefix}{i:07d}" for i in range(first, min(count, first + 5000))]
            session.add_all(Contact(id=c, email=f"{c}@example.com", created_at=now) for c in ids)
            session.add_all(ListMember(list_id=list_id, contact_id=c, joined_at=now) for c in ids)
            session.commit()
    engine.dispose()


async def raw_alone(bench: Bench, client: Client, count: int) -> float:
    marks = "SELECT count(*) FROM marks"
    before = bench.count(bench.raw_db, marks)
    start = time.perf_counter()
    await bounded(
        count, IN_FLIGHT, lambda i: client.start_workflow("RawWaiter", id=f"rawb-{i}", task_queue=RAW_QUEUE)
    )
    await wait_until(lambda: bench.count(bench.raw_db, marks) >= before + count, "raw first tasks")
    return count / (time.perf_counter() - start)


async def start_bulk(http: Http, automation: str, list_id: str) -> str:
    answer = await http.post(f"/automations/{automation}/bulk-enrollments", json={"list": list_id})
    assert answer.status_code == 202, answer.text
    return str(answer.json()["bulk_id"])


async def view(http: Http, bulk_id: str) -> dict[str, Any]:
    return (await http.get(f"/bulk-enrollments/{bulk_id}")).json()  # type: ignore[no-any-return]


async def run_bulk(http: Http, client: Client, automation: str, list_id: str, last: str) -> float:
    """Seconds until the bulk enrollment completed and its last enrollment's first task ran."""
    start = time.perf_counter()
    bulk_id = await start_bulk(http, automation, list_id)
    noted = start
    while (now := await view(http, bulk_id))["status"] == "running":
        if time.perf_counter() - noted > 10:
            print(f"  … {now['enrolled']} enrolled ({time.perf_counter() - start:.0f} s)", flush=True)
            noted = time.perf_counter()
        await asyncio.sleep(0.2)
    assert now["status"] == "completed" and now["enrolled"] == now["matched"], now
    handle = client.get_workflow_handle(f"{automation}.{last}.1")
    # Its first task ran once the history holds more than the start and that task's scheduling.
    while (await handle.describe()).history_length < 4:
        await asyncio.sleep(0.05)
    return time.perf_counter() - start


async def rounds(sample: Sampler, count: int) -> list[float]:
    """`count` rounds of LIVE goal moves at once, ROUND_EVERY apart."""
    samples: list[float] = []
    for r in range(count):
        started = time.perf_counter()
        samples += await bounded(LIVE, LIVE, lambda i, r=r: sample(r * LIVE + i))
        await asyncio.sleep(max(0.0, ROUND_EVERY - (time.perf_counter() - started)))
    return samples


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("count", nargs="?", type=int, default=20_000)
    parser.add_argument("--priority", choices="12345", default="5")
    parser.add_argument("--bulk-yield", default="3")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    os.environ["GOALFLOW_BULK_PRIORITY"] = args.priority
    os.environ["GOALFLOW_BULK_YIELD"] = args.bulk_yield
    print(
        f"bulk enrollment: {args.count} contacts, GOALFLOW_BULK_PRIORITY={args.priority}, "
        f"GOALFLOW_BULK_YIELD={args.bulk_yield}; {machine()}",
        flush=True,
    )
    n = args.count
    with Bench(database_url=args.database_url) as bench:
        client = await bench.goalflow_client()
        async with bench.http() as http:
            alone = (await http.post("/automations", json=HOLD)).json()["id"]
            busy = (await http.post("/automations", json=HOLD)).json()["id"]
            live = (await http.post("/automations", json=WAITING)).json()["id"]
            for list_id, prefix in (("alone", "a"), ("busy", "b")):
                await http.post("/lists", json={"id": list_id, "name": list_id})
                add_list(bench, list_id, prefix, n)
            print("  contacts written", flush=True)

            raw_rate = await raw_alone(bench, await bench.raw_client(), n)
            print(f"  raw alone: {raw_rate:.1f}/s", flush=True)
            bulk_rate = n / await run_bulk(http, client, alone, "alone", f"a{n - 1:07d}")
            print(f"  bulk alone: {bulk_rate:.1f}/s", flush=True)

            idle_sampler = await goalflow_waiting(http, live, "idle-", IDLE_ROUNDS * LIVE)
            idle = await rounds(idle_sampler, IDLE_ROUNDS)
            busy_sampler = await goalflow_waiting(http, live, "busy-", BUSY_ROUNDS * LIVE)
            print(f"  {(IDLE_ROUNDS + BUSY_ROUNDS) * LIVE} live contacts waiting", flush=True)
            bulk_id = await start_bulk(http, busy, "busy")
            await asyncio.sleep(2)  # Its first pages are under way.
            before, began = (await view(http, bulk_id))["enrolled"], time.perf_counter()
            during = await rounds(busy_sampler, BUSY_ROUNDS)
            after = await view(http, bulk_id)
            assert after["status"] == "running", "the bulk enrollment ended before the live rounds did"
            busy_rate = (after["enrolled"] - before) / (time.perf_counter() - began)
            await http.delete(f"/bulk-enrollments/{bulk_id}")
        rss = {name: bench.rss_mib(name) for name in ("worker", "temporal")}
    print(row("enrollments per second", bulk_rate, raw_rate, "/s", lower_is_better=False))
    idle_p, during_p = percentiles(idle), percentiles(during)
    for p in ("p50", "p99"):
        ratio = during_p[p] / idle_p[p]
        print(f"  live goal latency {p}: {during_p[p] * 1000:.1f} ms during the bulk, "
              f"{idle_p[p] * 1000:.1f} ms idle: {ratio:.2f}x ({len(during)} and {len(idle)} samples)")  # fmt: skip
    print(f"  bulk rate with live traffic: {busy_rate:.1f}/s ({busy_rate / bulk_rate:.2f}x of alone)")
    for label, rate in (("alone", bulk_rate), ("with live traffic", busy_rate)):
        print(f"  100,000 contacts {label}: {100_000 / rate / 60:.1f} min")
    print(f"  RSS at the end: worker {rss['worker']:.0f} MiB, Temporal dev server {rss['temporal']:.0f} MiB")


if __name__ == "__main__":
    asyncio.run(main())
