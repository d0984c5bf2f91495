"""Reading the contact, for `if_else`."""

from collections.abc import Callable
from typing import Any

from temporalio import activity

from shared.store import contacts
from worker.activities.base import ActivityGroup
from worker.steps.if_else import ContactSnapshot


class ContactActivities(ActivityGroup):
    def all(self) -> list[Callable[..., Any]]:
        return [self.load_contact]

    @activity.defn(name="load_contact")
    async def load_contact(self, contact_id: str) -> ContactSnapshot:
        def load(session: Any) -> ContactSnapshot:
            contact = contacts.get_contact(session, contact_id)
            return ContactSnapshot(tags=contact.tags, attributes=contact.attributes)

        return await self.db(load)
