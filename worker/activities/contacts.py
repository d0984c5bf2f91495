"""Reading the contact: for `if_else` (with its lists and event counts when the
condition names them), and for a `wait` for a window in its time zone."""

from collections.abc import Callable
from datetime import datetime
from typing import Any

from temporalio import activity

from shared.domain.errors import NotFound
from shared.settings import settings
from shared.store import contacts, segments
from shared.store.db import utcnow
from worker.activities.base import ActivityGroup
from worker.steps.if_else import ContactSnapshot, FactsInput
from worker.steps.wait import WindowInput


class ContactActivities(ActivityGroup):
    def all(self) -> list[Callable[..., Any]]:
        return [self.load_contact, self.load_contact_facts, self.window_opens]

    @activity.defn(name="load_contact")
    async def load_contact(self, contact_id: str) -> ContactSnapshot:
        def load(session: Any) -> ContactSnapshot:
            contact = contacts.get_contact(session, contact_id)
            return ContactSnapshot(tags=contact.tags, attributes=contact.attributes)

        return await self.db(load)

    @activity.defn(name="load_contact_facts")
    async def load_contact_facts(self, asked: FactsInput) -> ContactSnapshot:
        """Events are counted up to now, when the step runs."""

        def load(session: Any) -> ContactSnapshot:
            found = segments.facts(session, [asked.contact_id], asked.lists, asked.histories)
            if asked.contact_id not in found:
                raise NotFound("contact", asked.contact_id)
            facts = found[asked.contact_id]
            return ContactSnapshot(
                tags=sorted(facts.tags),
                attributes=dict(facts.attributes),
                lists=sorted(facts.lists),
                counts=[facts.counts[h] for h in asked.histories],
            )

        return await self.db(load)

    @activity.defn(name="window_opens")
    async def window_opens(self, asked: WindowInput) -> datetime | None:
        """When the window next opens in the contact's time zone; None: it is open."""
        contact = await self.db(lambda s: contacts.get_contact(s, asked.contact_id))
        return asked.window.opens(max(asked.asked_at, utcnow()), contact.timezone or settings().timezone)
