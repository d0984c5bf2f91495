"""`blocklist`: the contact's flag, set once per step run."""

from collections.abc import Callable
from typing import Any

from sqlmodel import Session
from temporalio import activity

from shared.store import contacts
from shared.store.db import StepRun
from worker.activities.base import ActivityGroup
from worker.steps.blocklist import BlocklistInput


class BlocklistActivities(ActivityGroup):
    def all(self) -> list[Callable[..., Any]]:
        return [self.blocklist_contact]

    @activity.defn(name="blocklist_contact")
    async def blocklist_contact(self, step: BlocklistInput) -> bool:
        """Whether this step run blocklisted the contact: a retry answers as the
        first run did, not "already blocklisted" by itself."""

        def change(session: Session) -> bool:
            run = session.get(StepRun, step.key)
            if run is not None:
                return bool(run.result["changed"])
            changed = contacts.set_blocklisted(session, step.contact_id, True)
            session.add(StepRun(key=step.key, result={"changed": changed}))
            session.commit()
            return changed

        return await self.db(change)
