"""The workflow side of each step type: its handler, found here by type. The
one place that lists them (`docs/adding-a-step.md`)."""

from worker.steps import (
    assign_user,
    blocklist,
    create_deal,
    create_task,
    end,
    go_to,
    goal,
    if_else,
    lists,
    notify,
    other_automations,
    record_conversion,
    send_email,
    send_sms,
    send_whatsapp,
    tags,
    update_attribute,
    update_deal,
    wait,
    wait_for_event,
    webhook,
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
    "add_to_list": lists.run,
    "remove_from_list": lists.run,
    "blocklist": blocklist.run,
    "record_conversion": record_conversion.run,
    "webhook": webhook.run,
    "go_to": go_to.run,
    "goal": goal.run,
    "end": end.run,
    "start_automation": other_automations.enter,
    "remove_from_automation": other_automations.leave,
    "enroll_in_sequence": other_automations.enter,
    "unenroll_from_sequence": other_automations.leave,
    "create_deal": create_deal.run,
    "update_deal": update_deal.run,
    "create_task": create_task.run,
    "assign_user": assign_user.run,
}

__all__ = ["HANDLERS", "Enrollment", "Handler"]
