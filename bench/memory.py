"""Memory: worker and dev-server RSS with N enrollments waiting, and per
enrollment; the same for N raw waiting workflows.

    python -m bench.memory [N]
"""

import argparse
import asyncio

from bench.enroll_throughput import FIRST_STEP
from bench.harness import RAW_QUEUE, Bench, bounded, machine, wait_until


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("count", nargs="?", type=int, default=10_000)
    args = parser.parse_args()
    n = args.count
    print(f"memory: {n} waiting enrollments; {machine()}", flush=True)
    with Bench() as bench:
        await asyncio.sleep(2)
        base = {name: bench.rss_mib(name) for name in ("worker", "temporal", "raw")}
        async with bench.http() as http:
            automation = (await http.post("/automations", json=FIRST_STEP)).json()["id"]
            await bounded(n, 32, lambda i: http.post("/contacts", json={"id": f"m{i}", "email": "m@x.io"}))
            await bounded(
                n,
                32,
                lambda i: http.post(f"/automations/{automation}/enrollments", json={"contact_id": f"m{i}"}),
            )
        await wait_until(
            lambda: bench.count(bench.goalflow_db, "SELECT count(*) FROM messages") >= n, "enrollments"
        )
        ours = {name: bench.rss_mib(name) for name in ("worker", "temporal")}
        client = await bench.raw_client()
        await bounded(
            n, 32, lambda i: client.start_workflow("RawWaiter", id=f"mem-{i}", task_queue=RAW_QUEUE)
        )
        await wait_until(lambda: bench.count(bench.raw_db, "SELECT count(*) FROM marks") >= n, "raw waiters")
        raw_rss, server_after = bench.rss_mib("raw"), bench.rss_mib("temporal")

    def per(delta_mib: float) -> str:
        return f"{delta_mib * 1024 / n:.1f} KiB each"

    print(
        f"  goalflow worker RSS {ours['worker']:.0f} MiB (+{per(ours['worker'] - base['worker'])}); target < 1024 MiB"
    )
    print(f"  raw worker RSS      {raw_rss:.0f} MiB (+{per(raw_rss - base['raw'])})")
    print(f"  dev server RSS      {ours['temporal']:.0f} MiB after goalflow's (+{per(ours['temporal'] - base['temporal'])}), "
          f"{server_after:.0f} MiB after raw's too (+{per(server_after - ours['temporal'])})")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
