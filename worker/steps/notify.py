"""`notify` in the workflow: one activity renders the internal email and sends
it over SMTP. Not held by the send window, which is the contact's; the message
is not the contact's, so it is not remembered for email goals."""

from shared.domain.steps.base import Planned
from worker.steps.base import Enrollment
from worker.steps.sending import deliver, recorded, send_input


async def run(enrollment: Enrollment, step: Planned) -> int | None:
    result = await deliver(enrollment, step, "notify", send_input(enrollment, step, window=False))
    if result is None:
        return None
    return recorded(enrollment, step, result, None)
