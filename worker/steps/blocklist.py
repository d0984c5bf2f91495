"""`blocklist` in the workflow: the activity sets the flag every send reads."""

from pydantic import BaseModel

from shared.domain.steps.blocklist import Blocklist
from worker.steps.base import Enrollment


class BlocklistInput(BaseModel):
    key: str
    contact_id: str


async def run(enrollment: Enrollment, step: Blocklist) -> int | None:
    change = BlocklistInput(key=enrollment.key(step), contact_id=enrollment.input.contact_id)
    changed = await enrollment.local("blocklist_contact", change, bool, step)
    if changed:
        enrollment.record(step.id, "done")
    else:
        enrollment.record(step.id, "skipped", reason="contact already blocklisted")
    return enrollment.after(step)
