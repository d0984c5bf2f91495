"""The benchmarks' SMTP server on loopback (aiosmtpd): it keeps, for each
message it accepts, the goalflow message id (or the raw sender's id), the
recipient and when it arrived, and counts duplicates."""

import asyncio
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller

from devstack import free_port

# The header that names a message: goalflow's own, or the raw baseline's.
_ID = re.compile(rb"^(X-Goalflow-Message-Id|X-Raw-Id): *(\S+)", re.IGNORECASE | re.MULTILINE)


@dataclass
class Arrival:
    message_id: str
    to: str
    at: float


@dataclass
class SmtpSink:
    # A real server takes some time to answer the end of DATA, the message taken.
    reply_delay: float = 0.0
    port: int = field(default_factory=free_port)
    arrivals: list[Arrival] = field(default_factory=list)
    controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}?tls=none"

    def __enter__(self) -> "SmtpSink":
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, data_size_limit=0)
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.controller is not None
        self.controller.stop()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        # A look at the headers, not a parse of 100 KB: a slow server widens the
        # window in which a client that dies cannot know the message was taken.
        named = _ID.search(envelope.original_content)
        self.arrivals.append(
            Arrival(named.group(2).decode() if named else "?", envelope.rcpt_tos[0], time.perf_counter())
        )
        if self.reply_delay:
            await asyncio.sleep(self.reply_delay)
        return "250 OK"

    def unique(self, prefix: str = "") -> set[str]:
        return {a.message_id for a in self.arrivals if a.message_id.startswith(prefix)}

    def duplicates(self) -> int:
        """Messages accepted more than once: one per extra copy."""
        return sum(n - 1 for n in Counter(a.message_id for a in self.arrivals).values())
