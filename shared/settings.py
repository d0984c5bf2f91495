"""Settings, read from the environment once per process."""

import os
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shared.domain.durations import parse_duration

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
    # What providers' webhooks are checked with (README, Provider webhooks); unset: refused.
    mailgun_webhook_signing_key: str | None
    sendgrid_webhook_public_key: str | None
    sendgrid_inbound_key: str | None
    postmark_webhook_user: str | None
    postmark_webhook_password: str | None


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
        timezone=_zone("GOALFLOW_TIMEZONE"),
        mailgun_webhook_signing_key=os.environ.get("GOALFLOW_MAILGUN_WEBHOOK_SIGNING_KEY") or None,
        sendgrid_webhook_public_key=os.environ.get("GOALFLOW_SENDGRID_WEBHOOK_PUBLIC_KEY") or None,
        sendgrid_inbound_key=os.environ.get("GOALFLOW_SENDGRID_INBOUND_KEY") or None,
        postmark_webhook_user=os.environ.get("GOALFLOW_POSTMARK_WEBHOOK_USER") or None,
        postmark_webhook_password=os.environ.get("GOALFLOW_POSTMARK_WEBHOOK_PASSWORD") or None,
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
