"""Settings, read from the environment once per process."""

import os
import re
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shared.domain.durations import parse_duration
from shared.domain.outbound import parse_allowed
from shared.domain.phones import E164
from shared.domain.standard_webhooks import decode_secret

EMAIL_PROVIDERS = ("smtp", "mailgun", "sendgrid", "postmark", "ses")


@dataclass(frozen=True)
class Settings:
    database_url: str
    # Unset: Temporal's own conventions decide (shared.temporal).
    temporal_address: str | None
    temporal_namespace: str | None
    task_queue: str
    workflow_cache: int
    # API keys required (GOALFLOW_AUTH=on, the default) or not (off: loopback only).
    auth: bool
    sweep_seconds: float
    # Where email goes: smtp://[user:password@]host:port[?tls=starttls|ssl|none].
    # Unset: messages are only recorded (`make run` sets its own catcher).
    smtp_url: str | None
    default_sender: str
    # Which provider's correlation header the messages carry, for its webhooks.
    email_provider: str
    ses_configuration_set: str | None
    # How long a send may take, retries included, before its step is recorded failed.
    send_timeout: timedelta
    # Signs tracking URLs; `make run` keeps one in .goalflow/secret_key.
    secret_key: bytes | None
    # Where tracking URLs point: the API as the contacts' mail clients reach it.
    public_url: str
    # The time zone of send windows for contacts without one.
    timezone: str
    # The SMTP catcher's mail, which `GET /dev/mailbox` shows (set by `make run`).
    mailbox: str | None
    # Twilio (SMS, WhatsApp). Without the SID and token, text messages are only
    # recorded in the outbox (and shown on `GET /dev/mailbox`).
    twilio_account_sid: str | None
    twilio_auth_token: str | None
    # The numbers messages come from when a step names none (E.164).
    twilio_from: str | None
    twilio_whatsapp_from: str | None
    # Twilio's REST API; tests point it at their own server.
    twilio_api_url: str
    # What providers' webhooks are checked with (README, Provider webhooks); unset: refused.
    mailgun_webhook_signing_key: str | None
    sendgrid_webhook_public_key: str | None
    sendgrid_inbound_key: str | None
    postmark_webhook_user: str | None
    postmark_webhook_password: str | None
    # Temporal task priority of the enrollments bulk enrollments start: 1 (first)
    # to 5 (last); live traffic has 3. Lower than live, bulk work yields to it.
    bulk_priority: int
    # While live contacts are served, bulk enrollments pause this many times as
    # long as each start took (0: no yielding beyond the priority).
    bulk_yield: float
    # The key webhook steps sign their requests with (Standard Webhooks; written
    # `whsec_` + base64). Unset: webhook steps fail, saying so.
    webhook_secret: bytes | None = None
    # `host:port` pairs webhook steps may call though they are loopback or private.
    webhook_allowed_hosts: frozenset[tuple[str, int]] = frozenset()


@cache
def settings() -> Settings:
    return Settings(
        database_url=os.environ.get("GOALFLOW_DATABASE_URL", "sqlite:///./.goalflow/goalflow.db"),
        temporal_address=os.environ.get("GOALFLOW_TEMPORAL_ADDRESS") or None,
        temporal_namespace=os.environ.get("GOALFLOW_TEMPORAL_NAMESPACE") or None,
        task_queue=os.environ.get("GOALFLOW_TASK_QUEUE", "goalflow"),
        workflow_cache=int(os.environ.get("GOALFLOW_WORKFLOW_CACHE", "5000")),
        auth=_on_off("GOALFLOW_AUTH", "on"),
        sweep_seconds=float(os.environ.get("GOALFLOW_SWEEP_SECONDS", "30")),
        smtp_url=os.environ.get("GOALFLOW_SMTP_URL") or None,
        default_sender=os.environ.get("GOALFLOW_DEFAULT_SENDER", "goalflow <noreply@goalflow.localhost>"),
        email_provider=_one_of("GOALFLOW_EMAIL_PROVIDER", EMAIL_PROVIDERS, "smtp"),
        ses_configuration_set=os.environ.get("GOALFLOW_SES_CONFIGURATION_SET") or None,
        send_timeout=_duration("GOALFLOW_SEND_TIMEOUT", "PT15M"),
        secret_key=os.environ["GOALFLOW_SECRET_KEY"].encode()
        if os.environ.get("GOALFLOW_SECRET_KEY")
        else None,
        public_url=os.environ.get("GOALFLOW_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/"),
        mailbox=os.environ.get("GOALFLOW_MAILBOX") or None,
        twilio_account_sid=os.environ.get("GOALFLOW_TWILIO_ACCOUNT_SID") or None,
        twilio_auth_token=os.environ.get("GOALFLOW_TWILIO_AUTH_TOKEN") or None,
        twilio_from=_number("GOALFLOW_TWILIO_FROM"),
        # Written as Twilio writes it (`whatsapp:+1…`) or bare.
        twilio_whatsapp_from=_number("GOALFLOW_TWILIO_WHATSAPP_FROM", strip="whatsapp:"),
        twilio_api_url=os.environ.get("GOALFLOW_TWILIO_API_URL", "https://api.twilio.com").rstrip("/"),
        timezone=_zone("GOALFLOW_TIMEZONE"),
        mailgun_webhook_signing_key=os.environ.get("GOALFLOW_MAILGUN_WEBHOOK_SIGNING_KEY") or None,
        sendgrid_webhook_public_key=os.environ.get("GOALFLOW_SENDGRID_WEBHOOK_PUBLIC_KEY") or None,
        sendgrid_inbound_key=os.environ.get("GOALFLOW_SENDGRID_INBOUND_KEY") or None,
        postmark_webhook_user=os.environ.get("GOALFLOW_POSTMARK_WEBHOOK_USER") or None,
        postmark_webhook_password=os.environ.get("GOALFLOW_POSTMARK_WEBHOOK_PASSWORD") or None,
        bulk_priority=int(_one_of("GOALFLOW_BULK_PRIORITY", ("1", "2", "3", "4", "5"), "5")),
        bulk_yield=float(os.environ.get("GOALFLOW_BULK_YIELD", "3")),
        webhook_secret=_webhook_secret("GOALFLOW_WEBHOOK_SECRET"),
        webhook_allowed_hosts=_allowed_hosts("GOALFLOW_WEBHOOK_ALLOWED_HOSTS"),
    )


def _on_off(name: str, default: str) -> bool:
    value = os.environ.get(name, default).strip().lower()
    if value not in ("on", "off"):
        raise SystemExit(f"{name} is 'on' or 'off', not '{value}'")
    return value == "on"


def _one_of(name: str, allowed: tuple[str, ...], default: str) -> str:
    value = os.environ.get(name, default).strip().lower()
    if value not in allowed:
        raise SystemExit(f"{name} is one of {', '.join(allowed)}, not '{value}'")
    return value


def _number(name: str, strip: str = "") -> str | None:
    value = os.environ.get(name, "").strip().removeprefix(strip)
    if value and not re.fullmatch(E164, value):
        raise SystemExit(f"{name} is a phone number in E.164 form such as +14155550123, not '{value}'")
    return value or None


def _duration(name: str, default: str) -> timedelta:
    value = os.environ.get(name, default)
    try:
        return parse_duration(value)
    except ValueError as error:
        raise SystemExit(f"{name} is an ISO 8601 duration such as PT15M, not '{value}': {error}") from None


def _zone(name: str) -> str:
    value = os.environ.get(name, "UTC")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise SystemExit(f"{name} is an IANA time zone such as Europe/Paris, not '{value}'") from None
    return value


def _webhook_secret(name: str) -> bytes | None:
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    try:
        return decode_secret(value)
    except ValueError as error:
        raise SystemExit(f"{name}: {error}") from None


def _allowed_hosts(name: str) -> frozenset[tuple[str, int]]:
    try:
        return parse_allowed(os.environ.get(name, ""))
    except ValueError as error:
        raise SystemExit(f"{name} is host:port pairs, comma-separated: {error}") from None
