"""`send_whatsapp` in the workflow: as `send_sms`. WhatsApp's 24-hour window is
judged at the workflow's time of asking (or later), as the send window is: a
wait before the step counts, on the time-skipping test server too."""

from shared.domain.steps.base import Planned
from worker.steps.base import Enrollment
from worker.steps.sending import deliver, recorded, send_input


async def run(enrollment: Enrollment, step: Planned) -> int | None:
    result = await deliver(enrollment, step, "send_whatsapp", send_input(enrollment, step, ask_now=True))
    if result is None:
        return None
    return recorded(enrollment, step, result, "whatsapp")
