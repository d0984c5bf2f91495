"""The mail `make run`'s SMTP catcher caught: one .eml file per message, in the
order they came. The catcher writes here; `GET /dev/mailbox` reads it."""

import email
import email.policy
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any


class Mailbox:
    def __init__(self, directory: Path):
        self.directory = directory

    def save(self, raw: bytes) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        # Nanoseconds first: names sort in arrival order.
        path = self.directory / f"{time.time_ns():020d}.eml"
        path.with_suffix(".part").write_bytes(raw)
        return path.with_suffix(".part").rename(path)

    def newest_first(self, limit: int = 100) -> list[EmailMessage]:
        paths = sorted(self.directory.glob("*.eml"), reverse=True)[:limit]
        return [
            email.message_from_bytes(p.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
            for p in paths
        ]


class CatchingHandler:
    """An aiosmtpd handler that keeps every message it is handed."""

    def __init__(self, mailbox: Mailbox):
        self.mailbox = mailbox

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.mailbox.save(envelope.original_content or envelope.content)
        return "250 OK: caught"
