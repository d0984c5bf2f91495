"""Reading the contact: for `if_else`, and for a `wait` for a window in its time zone."""

from collections.abc import Callable
from datetime import datetime
from typing import Any

from temporalio import activity

from shared.settings import settings
from shared.store import contacts
from shared.store.db import utcnow
from worker.activities.base import ActivityGroup
from worker.steps.if_else import ContactSnapshot
from worker.steps.wait import WindowInput


class ContactActivities(ActivityGroup):
    def all(self) -> list[Callable[..., Any]]:
        return [self.load_contact, self.window_opens]

    @activity.defn(name="load_contact")
    async def load_contact(self, contact_id: str) -> ContactSnapshot:
        def load(session: Any) -> ContactSnapshot:
            contact = contacts.get_contact(session, contact_id)
            return ContactSnapshot(tags=contact.tags, attributes=contact.attributes)

        return await self.db(load)

    @activity.defn(name="window_opens")
    async def window_opens(self, asked: WindowInput) -> datetime | None:
        """When the window next opens in the contact's time zone; None: it is open."""
        contact = await self.db(lambda s: contacts.get_contact(s, asked.contact_id))
        return asked.window.opens(max(asked.asked_at, utcnow()), contact.timezone or settings().timezone)
