"""Goal latency: N enrollments wait in a P30D wait before a `tag.added` goal;
the tag is added through the API one contact at a time, then 20 at a time,
and each sample is the time from the request until the enrollment's state
shows the jump. Baseline: a raw signal to a waiting trivial workflow until a
query shows its handler ran. The two sides take turns, a fifth of the samples
at a time.

    python -m bench.goal_latency [N]
"""

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable

from temporalio.client import Client

from bench.harness import RAW_QUEUE, Bench, Http, bounded, machine, percentiles, row, wait_until

WAITING = {"name": "latency", "steps": [
    {"id": "pause", "type": "wait", "duration": "P30D"},
    {"id": "bought", "type": "goal", "criteria": [{"type": "tag.added", "tag": "bought"}]},
    {"id": "after", "type": "wait", "duration": "P30D"},
]}  # fmt: skip
MODES = {"one at a time": 1, "20 at a time": 20}


# Both sides poll the state at this pace: in a tight loop, 20 pollers would load
# the two cores more than what they time, and our poll (HTTP, a database read and
# a query) costs more than raw's (a query).
POLL = 0.005


# Raw and goalflow samples alternate in rounds, so that a drift in the machine's
# speed, or Temporal's database growing, weighs on both sides alike.
ROUNDS = 5

Sampler = Callable[[int], Awaitable[float]]


async def goalflow_waiting(http: Http, automation: str, prefix: str, count: int) -> Sampler:
    """`count` enrollments held at `pause`; returns the sampler that moves the i-th."""
    contacts = [f"{prefix}{i}" for i in range(count)]
    await bounded(
        count,
        32,
        lambda i: http.post("/contacts", json={"id": contacts[i], "email": "x@x.io", "first_name": "X"}),
    )
    answers = await bounded(
        count,
        32,
        lambda i: http.post(f"/automations/{automation}/enrollments", json={"contact_id": contacts[i]}),
    )
    enrollments = [a.json()["enrollment_id"] for a in answers]

    async def at_pause(i: int) -> None:
        while (await http.get(f"/enrollments/{enrollments[i]}")).json()["current_step"] != "pause":
            await asyncio.sleep(0.05)

    await bounded(count, 32, at_pause)

    async def sample(i: int) -> float:
        start = time.perf_counter()
        await http.post(f"/contacts/{contacts[i]}/tags", json={"tag": "bought"})
        while (await http.get(f"/enrollments/{enrollments[i]}")).json()["goals_met"] != ["bought"]:
            await asyncio.sleep(POLL)
        return time.perf_counter() - start

    return sample


async def raw_waiting(bench: Bench, client: Client, prefix: str, count: int) -> Sampler:
    """`count` raw waiters; returns the sampler that signals the i-th."""
    before = bench.count(bench.raw_db, "SELECT count(*) FROM marks")
    handles = await bounded(
        count, 32, lambda i: client.start_workflow("RawWaiter", id=f"{prefix}{i}", task_queue=RAW_QUEUE)
    )
    await wait_until(
        lambda: bench.count(bench.raw_db, "SELECT count(*) FROM marks") >= before + count, "raw waiters"
    )

    async def sample(i: int) -> float:
        start = time.perf_counter()
        await handles[i].signal("move")
        while not await handles[i].query("state"):
            await asyncio.sleep(POLL)
        return time.perf_counter() - start

    return sample


async def alternate(
    ours: Sampler, raw: Sampler, count: int, in_flight: int
) -> tuple[list[float], list[float]]:
    mine: list[float] = []
    theirs: list[float] = []
    size = -(-count // ROUNDS)
    for first in range(0, count, size):
        batch = min(size, count - first)
        theirs += await bounded(batch, in_flight, lambda i, first=first: raw(first + i))
        mine += await bounded(batch, in_flight, lambda i, first=first: ours(first + i))
    return mine, theirs


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("count", nargs="?", type=int, default=300)
    args = parser.parse_args()
    print(f"goal latency: {args.count} per mode, {ROUNDS} alternating rounds; {machine()}", flush=True)
    results: dict[str, tuple[list[float], list[float]]] = {}
    with Bench() as bench:
        client = await bench.raw_client()
        async with bench.http() as http:
            automation = (await http.post("/automations", json=WAITING)).json()["id"]
            for mode, in_flight in MODES.items():
                raw = await raw_waiting(bench, client, f"raw{in_flight}-", args.count)
                ours = await goalflow_waiting(http, automation, f"c{in_flight}-", args.count)
                results[mode] = await alternate(ours, raw, args.count, in_flight)
                print(f"  {mode}: done", flush=True)
    for mode, (mine_samples, raw_samples) in results.items():
        mine, theirs = percentiles(mine_samples), percentiles(raw_samples)
        for p in ("p50", "p95", "p99"):
            print(row(f"{mode}, {p}", mine[p] * 1000, theirs[p] * 1000, "ms", lower_is_better=True))


if __name__ == "__main__":
    asyncio.run(main())
