"""`make bench`: every benchmark, one after the other, at the sizes of docs/PERFORMANCE.md."""

import subprocess
import sys

for name in ("enroll_throughput", "goal_latency", "fanout", "storm", "memory"):
    print(f"\n== bench.{name}", flush=True)
    subprocess.run([sys.executable, "-m", f"bench.{name}"], check=True)
