"""Delivery over SMTP (aiosmtplib), configured by GOALFLOW_SMTP_URL:
smtp://[user:password@]host:port[?tls=starttls|ssl|none]. Without `tls`, the
connection is upgraded with STARTTLS when the server offers it."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

TLS_MODES = ("starttls", "ssl", "none")


class SmtpError(Exception):
    """The server refused the message, or could not be reached."""

    def __init__(self, reply: str, permanent: bool):
        super().__init__(reply)
        self.permanent = permanent


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: str | None = None  # None: STARTTLS when offered

    @classmethod
    def from_url(cls, url: str) -> "SmtpServer":
        parts = urlsplit(url)
        if parts.scheme != "smtp" or not parts.hostname:
            raise ValueError(f"GOALFLOW_SMTP_URL is smtp://[user:password@]host:port, not '{url}'")
        tls = parse_qs(parts.query).get("tls", [None])[0]
        if tls is not None and tls not in TLS_MODES:
            raise ValueError(f"GOALFLOW_SMTP_URL: tls is one of {', '.join(TLS_MODES)}, not '{tls}'")
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if tls == "ssl" else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            tls=tls,
        )

    async def send(
        self,
        message: EmailMessage,
        attempt_seconds: float = 60,
        accepted: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """Hand `message` to the server. SmtpError says whether trying again can help:
        a 5xx reply is permanent; a 4xx, a timeout or a lost connection is not.
        `accepted` runs as soon as the server took the message, before QUIT: a
        process that dies in between sends it again, so the gap is kept short."""
        client = aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            username=self.username,
            password=self.password,
            use_tls=self.tls == "ssl",
            start_tls={"starttls": True, "none": False}.get(self.tls or "", None),
            timeout=attempt_seconds,
        )
        try:
            async with client:
                await client.send_message(message)
                if accepted is not None:
                    await accepted()
        except aiosmtplib.SMTPRecipientsRefused as error:
            refused = error.recipients[0]
            raise SmtpError(
                f"{refused.code} {refused.message}", permanent=500 <= refused.code < 600
            ) from None
        except aiosmtplib.SMTPResponseException as error:
            raise SmtpError(f"{error.code} {error.message}", permanent=500 <= error.code < 600) from None
        except (aiosmtplib.SMTPException, OSError) as error:
            raise SmtpError(f"{type(error).__name__}: {error}", permanent=False) from None
