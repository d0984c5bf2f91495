"""What every benchmark shares: a stack started exactly as `make run` starts
it (devstack), on free ports and fresh databases, with the raw-Temporal
baseline worker beside it; and the printing of figures."""

import asyncio
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from temporalio.client import Client

from devstack import DevStack, free_port
from shared.temporal import connect

T = TypeVar("T")
RAW_QUEUE = "raw"


class Bench:
    def __init__(self, cli_defaults: bool = False, database_url: str | None = None):
        self.home = Path(tempfile.mkdtemp(prefix="goalflow-bench-"))
        self.stack = DevStack(
            home=self.home, temporal_port=free_port(), api_port=free_port(), headless=True,
            database_url=database_url,
            sqlite_pragmas=() if cli_defaults else DevStack.sqlite_pragmas,
            dynamic_config=() if cli_defaults else DevStack.dynamic_config,
        )  # fmt: skip
        self.raw_db = self.home / "raw.db"
        self.raw: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> "Bench":
        self.stack.start()
        self.raw = subprocess.Popen(
            [sys.executable, "-m", "bench.raw", "--address", self.stack.temporal_address,
             "--task-queue", RAW_QUEUE, "--db", str(self.raw_db)],
            stdout=open(self.home / "raw.log", "ab"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        return self

    def __exit__(self, *exc: object) -> None:
        if self.raw:
            self.raw.terminate()
            self.raw.wait()
        self.stack.stop()
        shutil.rmtree(self.home, ignore_errors=True)

    def http(self) -> "Http":
        return Http(self.stack.api_url)

    async def goalflow_client(self) -> Client:
        return await connect(self.stack.temporal_address)

    async def raw_client(self) -> Client:
        return await Client.connect(self.stack.temporal_address)

    def count(self, database: Path, sql: str) -> int:
        with sqlite3.connect(database) as db:
            try:
                return int(db.execute(sql).fetchone()[0])
            except sqlite3.OperationalError:
                return 0  # The table is not there yet.

    @property
    def goalflow_db(self) -> Path:
        return self.home / "goalflow.db"

    def _pid(self, name: str) -> int:
        process = self.raw if name == "raw" else self.stack.processes[name]
        assert process is not None
        return process.pid

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time (user + system) each process of the stack, and this client, has used so far."""
        ticks = os.sysconf("SC_CLK_TCK")
        used = {}
        for name in ("temporal", "worker", "api", "raw"):
            # Fields after the command name, which may hold spaces: utime and stime are 14 and 15.
            fields = Path(f"/proc/{self._pid(name)}/stat").read_text().rsplit(")", 1)[1].split()
            used[name] = (int(fields[11]) + int(fields[12])) / ticks
        used["client"] = time.process_time()
        return used

    def rss_mib(self, name: str) -> float:
        for line in Path(f"/proc/{self._pid(name)}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")


@dataclass(frozen=True)
class Answer:
    status_code: int
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


class Http:
    """The API's client in the benchmarks: aiohttp, because the load generator
    shares the two cores with the stack it measures, and httpx costs 1.4 ms of
    CPU per request where aiohttp costs 0.4 ms (3,000 requests to a trivial
    local server). Bodies are read whole, so callers handle plain answers."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> "Http":
        # Idle connections are dropped before uvicorn's 5 s keep-alive runs out: with the
        # same 5 s on both sides, a request sent as the server closed it fails.
        connector = aiohttp.TCPConnector(limit=64, keepalive_timeout=2)
        self.session = aiohttp.ClientSession(
            self.base_url, connector=connector, timeout=aiohttp.ClientTimeout(total=120)
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.session is not None
        await self.session.close()

    async def get(self, path: str) -> Answer:
        return await self._call("GET", path, None)

    async def post(self, path: str, json: Any = None) -> Answer:
        return await self._call("POST", path, json)

    async def delete(self, path: str) -> Answer:
        return await self._call("DELETE", path, None)

    async def _call(self, method: str, path: str, body: Any) -> Answer:
        assert self.session is not None, "use `async with bench.http() as http`"
        async with self.session.request(method, path, json=body) as response:
            return Answer(response.status, await response.text())


async def bounded(count: int, in_flight: int, work: Callable[[int], Awaitable[T]]) -> list[T]:
    """Run work(0..count-1) with at most `in_flight` at a time."""
    results: list[Any] = [None] * count
    next_index = iter(range(count))

    async def lane() -> None:
        for i in next_index:
            results[i] = await work(i)

    await asyncio.gather(*(lane() for _ in range(in_flight)))
    return results


async def wait_until(check: Callable[[], bool], what: str, limit: float = 600, every: float = 0.05) -> float:
    """Seconds until `check()` holds, printing progress for long waits."""
    start = time.perf_counter()
    last_note = start
    while not check():
        now = time.perf_counter()
        if now - start > limit:
            raise TimeoutError(f"{what}: not done after {limit:.0f} s")
        if now - last_note > 10:
            print(f"  … still waiting for {what} ({now - start:.0f} s)", flush=True)
            last_note = now
        await asyncio.sleep(every)
    return time.perf_counter() - start


def percentiles(samples: Iterable[float]) -> dict[str, float]:
    ordered = sorted(samples)
    cut = statistics.quantiles(ordered, n=100, method="inclusive")
    return {"p50": cut[49], "p95": cut[94], "p99": cut[98]}


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "unknown CPU")  # fmt: skip
    return f"{os.uname().machine}, {os.cpu_count()} CPUs ({cpu}), Python {sys.version.split()[0]}"


def row(label: str, goalflow: float, raw: float, unit: str, lower_is_better: bool) -> str:
    ratio = goalflow / raw if raw else float("nan")
    better = "lower is better" if lower_is_better else "higher is better"
    return f"  {label:<28} goalflow {goalflow:>9.1f} {unit:<6} raw {raw:>9.1f} {unit:<6} ratio {ratio:5.2f}x ({better})"
