"""The mail `make run`'s SMTP catcher caught (`shared.store.mailbox`)."""

from email.message import EmailMessage
from pathlib import Path

from shared.domain.errors import NotFound
from shared.store.mailbox import Mailbox


def newest_first(directory: str | None, limit: int = 100) -> list[EmailMessage]:
    if directory is None:
        raise NotFound("mailbox", "dev", "make run catches mail only when GOALFLOW_SMTP_URL is unset")
    return Mailbox(Path(directory)).newest_first(limit)
