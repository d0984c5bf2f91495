"""Settings, read from the environment once per process."""

import os
from dataclasses import dataclass
from functools import cache


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
    )


def _on_off(name: str, default: str) -> bool:
    value = os.environ.get(name, default).strip().lower()
    if value not in ("on", "off"):
        raise SystemExit(f"{name} is 'on' or 'off', not '{value}'")
    return value == "on"
