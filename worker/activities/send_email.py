"""`send_email`: the content by reference, the contact, then rendering and the
provider's send, off the database thread."""

from collections.abc import Callable
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from worker.activities.base import unbroken
from worker.activities.sending import Sends
from worker.email import OutgoingEmail
from worker.outbox import DailyLimitReached, message_id_for
from worker.smtp import SmtpError
from worker.steps.sending import SendInput, SendResult


class SendEmailActivities(Sends):
    def all(self) -> list[Callable[..., Any]]:
        return [self.send_email]

    @activity.defn(name="send_email")
    async def send_email(self, step: SendInput) -> SendResult:
        return await unbroken(self._send(step))

    async def _send(self, step: SendInput) -> SendResult:
        read = await self.read_unless_paused(step)
        if isinstance(read, SendResult):
            return read
        content, contact = read
        if contact is None:
            return SendResult(skipped="contact no longer exists")
        ruled_out = self.ruled_out(step, contact, "email", contact.email)
        if ruled_out is not None:
            return ruled_out
        message_id = message_id_for(step.key)
        links: set[str] = set()
        parts = self.render_all(content.templates, self.fields(contact, message_id, links))
        if isinstance(parts, SendResult):
            return parts
        await self.check_links(links)
        body, html = parts["body"], parts.get("html")
        tracker = self.deps.tracker
        unsubscribe = None
        if tracker is not None:
            body = tracker.text(body, message_id, contact.id)
            html = html and tracker.html(html, message_id, contact.id)
            unsubscribe = tracker.unsubscribe_url(message_id, contact.id)
        email = OutgoingEmail(
            idempotency_key=step.key,
            enrollment_id=step.enrollment_id,
            step_id=step.step_id,
            contact_id=step.contact_id,
            to=contact.email,  # type: ignore[arg-type]
            subject=parts["subject"],
            body=body,
            html=html,
            sender=step.sender or content.fields["sender"],
        )
        try:
            return SendResult(message_id=await self.deps.outbox.send(email, unsubscribe))
        except DailyLimitReached:
            return SendResult(skipped="daily send limit reached")
        except SmtpError as error:
            # A 5xx reply is final; anything else is tried again within the send's bound.
            raise ApplicationError(f"SMTP: {error}", non_retryable=error.permanent) from None
