"""Memory: worker and dev-server RSS with N enrollments waiting, and per
enrollment; the same for N raw waiting workflows.

    python -m bench.memory [N]
    python -m bench.memory --realistic [N]

--realistic compares, in one run and on a fresh stack each, N enrollments in an
automation of 5 emails of 100 KB HTML against N in the same automation with
one-line emails: the worker's RSS, each enrollment's history bytes right after
entry (Temporal's historySizeBytes) and the dev server's database growth.
Content stays in goalflow's database, so the target is at most 1.2x on both.
"""

import argparse
import asyncio
import random
from pathlib import Path
from typing import Any

from bench.content import newsletter_html
from bench.enroll_throughput import FIRST_STEP
from bench.harness import RAW_QUEUE, Bench, Http, bounded, machine, wait_until

SAMPLED_HISTORIES = 100
TARGET = 1.2


async def enroll_all(bench: Bench, http: Http, definition: dict[str, Any], n: int) -> str:
    """N contacts enrolled in `definition`, once each has run its first step."""
    automation = (await http.post("/automations", json=definition)).json()["id"]
    await bounded(n, 32, lambda i: http.post("/contacts", json={"id": f"m{i}", "email": "m@x.io"}))
    await bounded(
        n, 32, lambda i: http.post(f"/automations/{automation}/enrollments", json={"contact_id": f"m{i}"})
    )
    sent = "SELECT count(*) FROM messages"
    await wait_until(lambda: bench.count(bench.goalflow_db, sent) >= n, "enrollments")
    return automation


async def against_raw(n: int) -> None:
    print(f"memory: {n} waiting enrollments; {machine()}", flush=True)
    with Bench() as bench:
        await asyncio.sleep(2)
        base = {name: bench.rss_mib(name) for name in ("worker", "temporal", "raw")}
        async with bench.http() as http:
            await enroll_all(bench, http, FIRST_STEP, n)
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


def five_emails(body: str) -> dict[str, Any]:
    steps: list[dict[str, Any]] = []
    for i in range(1, 6):
        subject = f"Part {i} for {{{{ contact.first_name | default('you') }}}}"
        steps.append({"id": f"email{i}", "type": "send_email", "subject": subject, "body": body})
        steps.append({"id": f"pause{i}", "type": "wait", "duration": "P1D"})
    return {"name": "five emails", "steps": steps}


async def measure(n: int, definition: dict[str, Any]) -> dict[str, float]:
    with Bench() as bench:
        await asyncio.sleep(2)
        base_rss, base_db = bench.rss_mib("worker"), _size(bench.home, "temporal.db")
        async with bench.http() as http:
            automation = await enroll_all(bench, http, definition, n)
        client = await bench.goalflow_client()
        sample = random.Random(9).sample(range(n), min(n, SAMPLED_HISTORIES))
        described = [await client.get_workflow_handle(f"{automation}.m{i}.1").describe() for i in sample]
        history = [d.raw_description.workflow_execution_info.history_size_bytes for d in described]
        return {
            "worker_rss": bench.rss_mib("worker"),
            "worker_rss_each": (bench.rss_mib("worker") - base_rss) * 1024 / n,
            "history_bytes": sum(history) / len(history),
            "temporal_db_each": (_size(bench.home, "temporal.db") - base_db) / n / 1024,
        }


def _size(home: Path, name: str) -> int:
    """A SQLite database's bytes, its write-ahead log included."""
    return sum(p.stat().st_size for p in home.glob(f"{name}*") if p.is_file())


async def realistic(n: int) -> None:
    html = newsletter_html(100_000)
    print(f"memory, realistic content: {n} enrollments each, 5 emails of {len(html):,} bytes "
          f"against 5 one-line emails; {machine()}", flush=True)  # fmt: skip
    one_line = await measure(n, five_emails("Welcome, {{ contact.first_name | default('you') }}."))
    print("  one-line case done", flush=True)
    heavy = await measure(n, five_emails(html))
    rows = (  # label, key, unit, whether the target applies
        ("worker RSS", "worker_rss", "MiB", True),
        ("worker RSS per enrollment", "worker_rss_each", "KiB", False),
        ("history bytes after entry", "history_bytes", "B", True),
        ("temporal.db per enrollment", "temporal_db_each", "KiB", False),
    )
    for label, key, unit, targeted in rows:
        ratio = heavy[key] / one_line[key] if one_line[key] else float("nan")
        verdict = f" (target <= {TARGET}x: {'met' if ratio <= TARGET else 'MISSED'})" if targeted else ""
        print(f"  {label:<27} realistic {heavy[key]:>10.1f} {unit:<4} one-line {one_line[key]:>10.1f} {unit:<4} "
              f"ratio {ratio:5.2f}x{verdict}")  # fmt: skip


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("count", nargs="?", type=int)
    parser.add_argument("--realistic", action="store_true", help="5 emails of 100 KB HTML against one-liners")
    args = parser.parse_args()
    if args.realistic:
        await realistic(args.count or 2000)
    else:
        await against_raw(args.count or 10_000)


if __name__ == "__main__":
    asyncio.run(main())
