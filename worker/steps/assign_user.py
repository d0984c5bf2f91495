"""`assign_user` in the workflow: the activity picks the user (the next turn
of a round robin) and makes it the contact's owner, once per step run."""

from shared.domain.steps.assign_user import AssignUser
from worker.steps.base import Enrollment
from worker.steps.crm import CrmInput, CrmResult, crm_input, recorded


class AssignInput(CrmInput):
    # One user; or several, taken in turn.
    users: list[str]


async def run(enrollment: Enrollment, step: AssignUser) -> int | None:
    users = [step.user] if step.user is not None else list(step.users or [])
    assign = AssignInput(**crm_input(enrollment, step), users=users)
    return recorded(enrollment, step, await enrollment.local("assign_user", assign, CrmResult, step))
