"""`make bench`: every benchmark, one after the other, at the sizes of docs/PERFORMANCE.md."""

import subprocess
import sys

for name, *args in (
    ("enroll_throughput",),
    ("goal_latency",),
    ("fanout",),
    ("storm",),
    ("memory",),
    ("memory", "--realistic"),
    ("send_cost",),
    ("smtp_crash",),
    ("bulk",),
):
    print(f"\n== bench.{name} {' '.join(args)}", flush=True)
    subprocess.run([sys.executable, "-m", f"bench.{name}", *args], check=True)
