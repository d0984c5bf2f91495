"""What a send costs as a regular activity against a local one: 100 KB HTML
emails sent over SMTP to a server on loopback, by raw Temporal workflows whose
one activity sends (local, as goalflow's sends ran before, and regular, as they
run now) and by goalflow enrollments whose first step is `send_email`. The
three take turns in rounds on one stack, so the figures compare within the run.

    python -m bench.send_cost [N] [--latency-samples K]

Throughput: N sends per side, 32 in flight, from the first start until the
last message arrived. Latency: K sends per side one at a time, from the start
until the message arrived.
"""

import argparse
import asyncio
import os
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable

from bench.content import newsletter_html
from bench.harness import RAW_QUEUE, Bench, Http, bounded, machine, percentiles, wait_until
from bench.smtp_sink import SmtpSink

IN_FLIGHT = 32
ROUNDS = 4
SIDES = ("raw, local activity", "raw, regular activity", "goalflow send_email")
PROCESSES = {
    SIDES[0]: ("temporal", "raw"),
    SIDES[1]: ("temporal", "raw"),
    SIDES[2]: ("temporal", "worker", "api"),
}

Starter = Callable[[str], Awaitable[None]]


def automation() -> dict[str, object]:
    return {
        "name": "send cost",
        "steps": [
            {
                "id": "newsletter",
                "type": "send_email",
                "subject": "News for {{ contact.first_name }}",
                "body": "Hi {{ contact.first_name }}, our news: https://shop.example.com/news",
                "html": newsletter_html(100_000),
            }
        ],
    }


async def starters(bench: Bench, http: Http) -> dict[str, Starter]:
    client = await bench.raw_client()
    automation_id = (await http.post("/automations", json=automation())).json()["id"]

    def raw(local: bool) -> Starter:
        async def start(name: str) -> None:
            await client.start_workflow("RawSend", local, id=name, task_queue=RAW_QUEUE)

        return start

    async def enroll(name: str) -> None:
        contact = {"id": name, "email": f"{name}@x.io", "first_name": "Ada"}
        assert (await http.post("/contacts", json=contact)).status_code == 201
        answer = await http.post(f"/automations/{automation_id}/enrollments", json={"contact_id": name})
        assert answer.status_code == 201, answer.text

    return {SIDES[0]: raw(True), SIDES[1]: raw(False), SIDES[2]: enroll}


async def throughput(sink: SmtpSink, start: Starter, count: int, side: int) -> float:
    before = len(sink.arrivals)
    began = time.perf_counter()
    names = [f"s{side}t{uuid.uuid4().hex[:10]}" for _ in range(count)]
    await bounded(count, IN_FLIGHT, lambda i: start(names[i]))
    await wait_until(lambda: len(sink.arrivals) >= before + count, "sends", every=0.01)
    return time.perf_counter() - began


async def latency(sink: SmtpSink, start: Starter, side: int) -> float:
    before = len(sink.arrivals)
    began = time.perf_counter()
    await start(f"s{side}l{uuid.uuid4().hex[:10]}")
    await wait_until(lambda: len(sink.arrivals) > before, "a send", every=0.002)
    return sink.arrivals[-1].at - began


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("count", nargs="?", type=int, default=800)
    parser.add_argument("--latency-samples", type=int, default=100)
    args = parser.parse_args()
    print(f"send cost: {args.count} sends per side, {IN_FLIGHT} in flight, then {args.latency_samples} "
          f"one at a time; 100 KB HTML over SMTP on loopback; {machine()}", flush=True)  # fmt: skip
    with SmtpSink() as sink:
        os.environ["GOALFLOW_SMTP_URL"] = sink.url
        with Bench() as bench:
            async with bench.http() as http:
                start = await starters(bench, http)
                seconds = dict.fromkeys(SIDES, 0.0)
                cpu = dict.fromkeys(SIDES, 0.0)
                waits: dict[str, list[float]] = {side: [] for side in SIDES}
                await throughput(sink, start[SIDES[2]], IN_FLIGHT, 2)  # Warm-up: imports, first connections.
                for round_ in range(ROUNDS):
                    for index, side in enumerate(SIDES):
                        used = bench.cpu_seconds()
                        seconds[side] += await throughput(sink, start[side], args.count // ROUNDS, index)
                        after = bench.cpu_seconds()
                        cpu[side] += sum(after[p] - used[p] for p in PROCESSES[side])
                        for _ in range(args.latency_samples // ROUNDS):
                            waits[side].append(await latency(sink, start[side], index))
                    print(f"  round {round_ + 1} of {ROUNDS} done", flush=True)
    sent = args.count // ROUNDS * ROUNDS
    base = sent / seconds[SIDES[0]]
    base_p50 = percentiles(waits[SIDES[0]])["p50"]
    copies = Counter(a.to for a in sink.arrivals)
    for index, side in enumerate(SIDES):
        twice = sum(n - 1 for to, n in copies.items() if to.startswith(f"s{index}"))
        print(f"  {side}: {twice} messages the server received more than once")
    for side in SIDES:
        rate, cut = sent / seconds[side], percentiles(waits[side])
        print(
            f"  {side:<24} {rate:6.1f} sends/s ({rate / base:4.2f}x local)  "
            f"CPU {cpu[side] / sent * 1000:5.1f} ms/send  latency p50 {cut['p50'] * 1000:6.1f} ms "
            f"({cut['p50'] / base_p50:4.2f}x local), p95 {cut['p95'] * 1000:6.1f} ms"
        )


if __name__ == "__main__":
    asyncio.run(main())
