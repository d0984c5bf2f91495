"""Crash test: the worker is killed with SIGKILL at random moments while N
enrollments send a 100 KB HTML email each through a real SMTP server on
loopback, and started again at once. Every enrollment's mail must arrive; the
server counts what it received twice.

    python -m bench.smtp_crash [N] [--every SECONDS] [--seed S]

One window remains by design (worker/outbox.py): a worker killed after the
server accepted a message and before its row is marked sent sends it again on
the retry, so at most one duplicate per crash.
"""

import argparse
import asyncio
import os
import random
import time

from bench.content import newsletter_html
from bench.harness import Bench, Http, bounded, machine, wait_until
from bench.smtp_sink import SmtpSink

AUTOMATION = {
    "name": "crash test",
    "steps": [
        {
            "id": "newsletter",
            "type": "send_email",
            "subject": "News for {{ contact.first_name }}",
            "body": "Hi {{ contact.first_name }}",
            "html": newsletter_html(100_000),
        }
    ],
}


async def enroll_all(http: Http, count: int) -> list[str]:
    automation = (await http.post("/automations", json=AUTOMATION)).json()["id"]
    contacts = [f"c{i}" for i in range(count)]
    await bounded(
        count,
        16,
        lambda i: http.post(
            "/contacts", json={"id": contacts[i], "email": f"{contacts[i]}@x.io", "first_name": "Ada"}
        ),
    )

    async def enroll(i: int) -> str:
        # Slowly, so that the sends spread over the kills.
        await asyncio.sleep(i * 0.1)
        while True:
            answer = await http.post(
                f"/automations/{automation}/enrollments", json={"contact_id": contacts[i]}
            )
            if answer.status_code == 201:
                return str(answer.json()["enrollment_id"])
            assert answer.status_code >= 500 or answer.status_code == 503, answer.text

    return await asyncio.gather(*(enroll(i) for i in range(count)))


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("count", nargs="?", type=int, default=200)
    parser.add_argument("--every", type=float, default=3.0, help="mean seconds between kills")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument(
        "--database-url", help="goalflow's database (default: SQLite in the stack's directory)"
    )
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    chance = random.Random(seed)
    print(f"SMTP crash test: {args.count} enrollments, a kill -9 every {args.every} s on average "
          f"(seed {seed}); {machine()}", flush=True)  # fmt: skip
    with SmtpSink() as sink:
        os.environ["GOALFLOW_SMTP_URL"] = sink.url
        with Bench(database_url=args.database_url) as bench:
            stack = bench.stack
            began = time.perf_counter()
            kills: list[tuple[float, int]] = []

            async def killer() -> None:
                while True:
                    await asyncio.sleep(chance.uniform(0.2, 2 * args.every - 0.2))
                    stack.stop("worker", kill=True)
                    kills.append((time.perf_counter() - began, len(sink.unique("msg_"))))
                    stack.start_worker()

            async with bench.http() as http:
                killing = asyncio.create_task(killer())
                enrollments = await enroll_all(http, args.count)
                # Kills go on until 95% of the mail is in, then the rest must come by itself.
                await wait_until(lambda: len(sink.unique("msg_")) >= args.count * 0.95, "95% of the mail")
                killing.cancel()
                await wait_until(lambda: len(sink.unique("msg_")) >= args.count, "all the mail", limit=900)

                async def finished(enrollment: str) -> str:
                    while True:
                        answer = await http.get(f"/enrollments/{enrollment}")
                        if answer.status_code == 200 and answer.json()["status"] != "running":
                            return str(answer.json()["status"])
                        await asyncio.sleep(0.2)

                statuses = await asyncio.gather(*(finished(e) for e in enrollments))
    received = {a.to for a in sink.arrivals}
    missing = {f"c{i}@x.io" for i in range(args.count)} - received
    print(f"  kills: {len(kills)}, at (s, messages in): {', '.join(f'{t:.1f}/{n}' for t, n in kills)}")
    print(f"  messages received: {len(sink.arrivals)}, distinct: {len(sink.unique('msg_'))}, "
          f"contacts without mail: {len(missing)}")  # fmt: skip
    print(f"  enrollments: {', '.join(f'{s} {statuses.count(s)}' for s in sorted(set(statuses)))}")
    # A duplicate belongs to the first kill after its first copy arrived.
    first: dict[str, float] = {}
    for arrival in sink.arrivals:
        first.setdefault(arrival.message_id, arrival.at - began)
    seen: set[str] = set()
    per_kill = [0] * len(kills)
    for arrival in sink.arrivals:
        if arrival.message_id in seen:
            after = [k for k, (at, _) in enumerate(kills) if at >= first[arrival.message_id]]
            per_kill[after[0] if after else -1] += 1
        seen.add(arrival.message_id)
    print(f"  duplicates per kill: {per_kill} (most from one kill: {max(per_kill, default=0)})")
    print(f"  duplicates: {sink.duplicates()} ({sink.duplicates() / max(len(kills), 1):.2f} per kill; target 0, "
          f"at most 1 per kill); all done in {time.perf_counter() - began:.0f} s")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
