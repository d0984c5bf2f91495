"""`send_whatsapp` in the workflow: as `send_sms`; the activity chooses
between the step's free text and its template (WhatsApp's 24-hour window)."""

from shared.domain.steps.base import Planned
from worker.steps.base import Enrollment
from worker.steps.sending import deliver, recorded, send_input


async def run(enrollment: Enrollment, step: Planned) -> int | None:
    result = await deliver(enrollment, step, "send_whatsapp", send_input(enrollment, step))
    if result is None:
        return None
    return recorded(enrollment, step, result, "whatsapp")
