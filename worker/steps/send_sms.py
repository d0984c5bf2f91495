"""`send_sms` in the workflow: one activity fetches the content, renders it and
sends it through Twilio; the message is remembered for sms goals (G8). A new
step type, with no run recorded before it: no `workflow.patched`."""

from shared.domain.steps.base import Planned
from worker.steps.base import Enrollment
from worker.steps.sending import deliver, recorded, send_input


async def run(enrollment: Enrollment, step: Planned) -> int | None:
    result = await deliver(enrollment, step, "send_sms", send_input(enrollment, step))
    if result is None:
        return None
    return recorded(enrollment, step, result, "sms")
