"""What the services need of the process that calls them: its database,
Temporal, the task queue its enrollments run on, and the event bus, which
fires triggers through them. The API builds one at start-up, the worker one
for its steps' events and its sweep."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy.engine import Engine
from sqlmodel import Session
from temporalio.client import Client

from shared.domain.tracking import Tracker
from shared.services.events import EventBus
from shared.services.webhook_keys import WebhookKeys
from shared.store.db import in_session

T = TypeVar("T")


@dataclass
class Services:
    engine: Engine
    client: Client
    task_queue: str
    # Signs tracking URLs (GOALFLOW_SECRET_KEY); without it nothing is tracked.
    secret_key: bytes | None = None
    public_url: str = "http://127.0.0.1:8000"
    # Verifies Twilio's webhooks (GOALFLOW_TWILIO_AUTH_TOKEN); without it none is accepted.
    twilio_auth_token: str | None = None
    # What providers' webhooks are checked with (shared.services.webhooks).
    webhooks: WebhookKeys = field(default_factory=WebhookKeys)
    bus: EventBus = field(init=False)
    tracker: Tracker | None = field(init=False)

    def __post_init__(self) -> None:
        self.bus = EventBus(self.engine, self.client, fire=self._fire_triggers)
        self.tracker = Tracker(self.public_url, self.secret_key) if self.secret_key else None

    async def _fire_triggers(self, event_ids: list[str]) -> int:
        # Imported here: triggers start enrollments, and that service takes these Services.
        from shared.services import triggers

        return await triggers.fire(self, event_ids)

    async def db(self, work: Callable[[Session], T]) -> T:
        """Database work off the event loop, one session per call."""
        return await in_session(self.engine, work)
