"""The workflow side of each step type: its handler, found here by type. The
one place that lists them (`docs/adding-a-step.md`)."""

from worker.steps import (
    assign_user,
    create_deal,
    create_task,
    end,
    go_to,
    goal,
    if_else,
    notify,
    send_email,
    send_sms,
    send_whatsapp,
    tags,
    update_attribute,
    update_deal,
    wait,
    wait_for_event,
)
from worker.steps.base import Enrollment, Handler

HANDLERS: dict[str, Handler] = {
    "send_email": send_email.run,
    "send_sms": send_sms.run,
    "send_whatsapp": send_whatsapp.run,
    "notify": notify.run,
    "wait": wait.run,
    "wait_for_event": wait_for_event.run,
    "if_else": if_else.run,
    "add_tag": tags.run,
    "remove_tag": tags.run,
    "update_attribute": update_attribute.run,
    "go_to": go_to.run,
    "goal": goal.run,
    "end": end.run,
    "create_deal": create_deal.run,
    "update_deal": update_deal.run,
    "create_task": create_task.run,
    "assign_user": assign_user.run,
}

__all__ = ["HANDLERS", "Enrollment", "Handler"]
