"""Enrollment throughput: N contacts enrolled through the HTTP API (32 in
flight) until every enrollment has run its first step, against raw
`client.start_workflow` of a trivial waiting workflow on the same server.

    python -m bench.enroll_throughput [N] [--cli-defaults]

--cli-defaults starts the dev server without our SQLite pragmas and dynamic
config (the "before" of docs/PERFORMANCE.md).
"""

import argparse
import asyncio
import time

from bench.harness import RAW_QUEUE, Bench, bounded, machine, row, wait_until

IN_FLIGHT = 32
GOALFLOW = ("temporal", "worker", "api", "client")
RAW = ("temporal", "raw", "client")
FIRST_STEP = {"name": "throughput", "steps": [
    {"id": "welcome", "type": "send_email", "subject": "Hi {{ contact.first_name }}", "body": "Welcome"},
    {"id": "pause", "type": "wait", "duration": "P30D"},
]}  # fmt: skip


def cpu_per_item(
    before: dict[str, float], after: dict[str, float], count: int, names: tuple[str, ...]
) -> str:
    return ", ".join(f"{name} {(after[name] - before[name]) / count * 1000:.1f} ms" for name in names)


async def goalflow(bench: Bench, count: int) -> float:
    async with bench.http() as http:
        automation = (await http.post("/automations", json=FIRST_STEP)).json()["id"]
        await bounded(
            count,
            IN_FLIGHT,
            lambda i: http.post("/contacts", json={"id": f"t{i}", "email": f"t{i}@x.io", "first_name": "T"}),
        )
        cpu = bench.cpu_seconds()
        start = time.perf_counter()

        async def enroll(i: int) -> None:
            response = await http.post(f"/automations/{automation}/enrollments", json={"contact_id": f"t{i}"})
            assert response.status_code == 201, response.text

        await bounded(count, IN_FLIGHT, enroll)
        sent = "SELECT count(*) FROM messages"
        await wait_until(lambda: bench.count(bench.goalflow_db, sent) >= count, "first steps")
        rate = count / (time.perf_counter() - start)
        print(f"  goalflow CPU per enrollment: {cpu_per_item(cpu, bench.cpu_seconds(), count, GOALFLOW)}")
        return rate


async def raw(bench: Bench, count: int) -> float:
    client = await bench.raw_client()
    cpu = bench.cpu_seconds()
    start = time.perf_counter()
    await bounded(
        count, IN_FLIGHT, lambda i: client.start_workflow("RawWaiter", id=f"raw-{i}", task_queue=RAW_QUEUE)
    )
    marks = "SELECT count(*) FROM marks"
    await wait_until(lambda: bench.count(bench.raw_db, marks) >= count, "raw first tasks")
    rate = count / (time.perf_counter() - start)
    print(f"  raw CPU per workflow: {cpu_per_item(cpu, bench.cpu_seconds(), count, RAW)}")
    return rate


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("count", nargs="?", type=int, default=2000)
    parser.add_argument("--cli-defaults", action="store_true")
    args = parser.parse_args()
    print(f"enrollment throughput: {args.count} enrollments, {IN_FLIGHT} in flight; {machine()}", flush=True)
    # Each on a fresh stack, so that neither runs on a server the other filled.
    with Bench(cli_defaults=args.cli_defaults) as bench:
        raw_rate = await raw(bench, args.count)
    print(f"  raw done: {raw_rate:.1f}/s", flush=True)
    with Bench(cli_defaults=args.cli_defaults) as bench:
        goalflow_rate = await goalflow(bench, args.count)
    print(row("enrollments to first step", goalflow_rate, raw_rate, "/s", lower_is_better=False))


if __name__ == "__main__":
    asyncio.run(main())
