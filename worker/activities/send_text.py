"""`send_sms` and `send_whatsapp`: the content by reference, the contact, the
sending rules, then rendering and Twilio's send (`Outbox.text`).

WhatsApp takes free text only within 24 hours of the contact's last message
to us (Meta's customer service window); outside it, only an approved template.
The step's body goes when the window is open, its template otherwise; with no
template, a send outside the window is skipped, with the reason."""

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from shared.store.db import Contact, utcnow
from shared.store.texts import last_inbound
from worker.activities.base import unbroken
from worker.activities.sending import Sends
from worker.content import StepContent
from worker.email import compile_template
from worker.outbox import DailyLimitReached, message_id_for
from worker.steps.sending import SendInput, SendResult
from worker.texts import BODY_CHARS, OutgoingText
from worker.twilio import TwilioError

WHATSAPP_WINDOW = timedelta(hours=24)
OUTSIDE_THE_WINDOW = "outside WhatsApp's 24-hour window (the contact has not written in 24 hours), and the step has no template"


class TextActivities(Sends):
    def all(self) -> list[Callable[..., Any]]:
        return [self.send_sms, self.send_whatsapp]

    @activity.defn(name="send_sms")
    async def send_sms(self, step: SendInput) -> SendResult:
        return await unbroken(self._send(step, "sms"))

    @activity.defn(name="send_whatsapp")
    async def send_whatsapp(self, step: SendInput) -> SendResult:
        return await unbroken(self._send(step, "whatsapp"))

    async def _send(self, step: SendInput, channel: str) -> SendResult:
        read = await self.read_unless_paused(step)
        if isinstance(read, SendResult):
            return read
        content, contact = read
        if contact is None:
            return SendResult(skipped="contact no longer exists")
        ruled_out = self.ruled_out(step, contact, channel, contact.phone)
        if ruled_out is not None:
            return ruled_out
        template = None
        if channel == "whatsapp":
            template = content.fields["template"]
            if content.fields["body"] is not None and await self._window_open(contact):
                template = None  # Inside the window the step's own words go.
            elif template is None:
                return SendResult(skipped=OUTSIDE_THE_WINDOW)
        message_id = message_id_for(step.key)
        links: set[str] = set()
        rendered = self.render_all(
            self._templates(content, template), self.fields(contact, message_id, links)
        )
        if isinstance(rendered, SendResult):
            return rendered
        await self.check_links(links)
        body = json.dumps(rendered, ensure_ascii=False) if template else rendered["body"]
        if template is None and len(body) > BODY_CHARS:
            raise ApplicationError(
                f"the body is {len(body):,} characters; Twilio takes at most {BODY_CHARS:,}",
                non_retryable=True,
            )
        sending = self.deps.outbox.sending
        text = OutgoingText(
            idempotency_key=step.key,
            enrollment_id=step.enrollment_id,
            step_id=step.step_id,
            contact_id=step.contact_id,
            channel=channel,
            to=contact.phone,  # type: ignore[arg-type]
            sender=content.fields["sender"]
            or (sending.whatsapp_from if channel == "whatsapp" else sending.sms_from),
            body=body,
            template=template,
        )
        try:
            return SendResult(message_id=await self.deps.outbox.text(text))
        except DailyLimitReached:
            return SendResult(skipped="daily send limit reached")
        except TwilioError as error:
            # A 4xx answer is final; anything else is tried again within the send's bound.
            raise ApplicationError(str(error), non_retryable=error.permanent) from None

    async def _window_open(self, contact: Contact) -> bool:
        """Judged by the clock, as WhatsApp judges it (not the workflow's time,
        which a send window's hold may have carried past it)."""
        last = await self.db(lambda s: last_inbound(s, "whatsapp", contact.phone))  # type: ignore[arg-type]
        return last is not None and utcnow() - last < WHATSAPP_WINDOW

    @staticmethod
    def _templates(content: StepContent, template: str | None) -> dict[str, Any]:
        """The body's template, or a template message's variables (short: compiled at each send)."""
        if template is None:
            return {"body": content.templates["body"]}
        return {name: compile_template(value) for name, value in content.fields["variables"].items()}
