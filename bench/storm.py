"""Storm: N events into one enrollment through `POST /events` (32 in flight);
the time, events lost (must be 0), and the longest history of any of its runs.

    python -m bench.storm [N]
"""

import argparse
import asyncio
import time

from bench.harness import Bench, bounded, machine, wait_until


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("count", nargs="?", type=int, default=20_000)
    args = parser.parse_args()
    print(f"storm: {args.count} events into one enrollment; {machine()}", flush=True)
    steps = [
        {"id": "hold", "type": "goal", "criteria": [{"type": "custom", "name": "stop"}], "if_unmet": "wait"}
    ]
    with Bench() as bench:
        client = await bench.goalflow_client()
        async with bench.http() as http:
            automation = (await http.post("/automations", json={"name": "storm", "steps": steps})).json()[
                "id"
            ]
            await http.post("/contacts", json={"id": "storm", "email": "s@x.io"})
            enrollment = (
                await http.post(f"/automations/{automation}/enrollments", json={"contact_id": "storm"})
            ).json()["enrollment_id"]
            start = time.perf_counter()
            last = 0.0

            async def send(i: int) -> None:
                nonlocal last
                event = {
                    "id": f"storm-{i}",
                    "contact_id": "storm",
                    "type": "custom",
                    "data": {"name": "ping"},
                }
                response = await http.post("/events", json=event)
                assert response.status_code == 202, response.text
                if time.perf_counter() - last > 10:
                    last = time.perf_counter()
                    print(f"  … {i} events posted ({i / (last - start):.0f}/s)", flush=True)

            await bounded(args.count, 32, send)
            await http.post("/events", json={"id": "storm-stop", "contact_id": "storm", "type": "custom",
                                             "data": {"name": "stop"}})  # fmt: skip
            state: dict = {}

            def done() -> bool:
                return state.get("status") == "completed"

            async def refresh() -> None:
                while not done():
                    state.update((await http.get(f"/enrollments/{enrollment}")).json())
                    await asyncio.sleep(0.2)

            poller = asyncio.create_task(refresh())
            await wait_until(done, "the enrollment to finish")
            await poller
            elapsed = time.perf_counter() - start
        runs = [run async for run in client.list_workflows(f"WorkflowId = '{enrollment}'")]
        lengths = [
            (await client.get_workflow_handle(enrollment, run_id=r.run_id).describe()).history_length
            for r in runs
        ]
    received = state["events_received"]
    print(f"  {args.count + 1} events in {elapsed:.1f} s ({(args.count + 1) / elapsed:.0f}/s); "
          f"received {received}, lost {args.count + 1 - received}")  # fmt: skip
    print(f"  runs: {len(lengths)}; longest history {max(lengths)} events (target: none over 10,000)")


if __name__ == "__main__":
    asyncio.run(main())
