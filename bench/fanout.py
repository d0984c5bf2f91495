"""Fan-out: one contact enrolled in 20 automations; one event; the time until
all 20 enrollments show the move. Repeated for several contacts.

    python -m bench.fanout [RUNS]
"""

import argparse
import asyncio
import statistics
import time

from bench.harness import Bench, machine

AUTOMATIONS = 20


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("runs", nargs="?", type=int, default=10)
    args = parser.parse_args()
    print(
        f"fan-out: one event to one contact in {AUTOMATIONS} automations, {args.runs} runs; {machine()}",
        flush=True,
    )
    steps = [
        {"id": "pause", "type": "wait", "duration": "P30D"},
        {"id": "go", "type": "goal", "criteria": [{"type": "tag.added", "tag": "go"}]},
        {"id": "after", "type": "wait", "duration": "P30D"},
    ]
    timings = []
    with Bench() as bench:
        async with bench.http() as http:
            automations = [
                (await http.post("/automations", json={"name": f"fan {i}", "steps": steps})).json()["id"]
                for i in range(AUTOMATIONS)
            ]
            for run in range(args.runs):
                contact = (
                    await http.post(
                        "/contacts", json={"id": f"fan{run}", "email": "f@x.io", "first_name": "F"}
                    )
                ).json()["id"]
                enrollments = [
                    (await http.post(f"/automations/{a}/enrollments", json={"contact_id": contact})).json()[
                        "enrollment_id"
                    ]
                    for a in automations
                ]

                async def state(enrollment: str) -> dict:
                    return (await http.get(f"/enrollments/{enrollment}")).json()

                while not all(
                    s["current_step"] == "pause" for s in await asyncio.gather(*map(state, enrollments))
                ):
                    await asyncio.sleep(0.05)
                start = time.perf_counter()
                await http.post(f"/contacts/{contact}/tags", json={"tag": "go"})

                async def moved(enrollment: str) -> None:
                    while (await state(enrollment))["goals_met"] != ["go"]:
                        pass

                await asyncio.gather(*map(moved, enrollments))
                timings.append(time.perf_counter() - start)
    print(f"  all {AUTOMATIONS} moved: median {statistics.median(timings) * 1000:.0f} ms, "
          f"max {max(timings) * 1000:.0f} ms (target < 1000 ms)")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
