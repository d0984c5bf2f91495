"""`notify`: an internal email about the contact to the step's addresses and
its users' emails (read as the step runs), over the outbox's SMTP path. The
contact's consent and the send window do not apply, and nothing in it is
tracked (no trigger links, no open image, no unsubscribe)."""

from collections.abc import Callable
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from shared.store import users
from worker.activities.base import unbroken
from worker.activities.sending import Sends
from worker.email import OutgoingEmail, merge_fields
from worker.smtp import SmtpError
from worker.steps.sending import SendInput, SendResult


class NotifyActivities(Sends):
    def all(self) -> list[Callable[..., Any]]:
        return [self.notify]

    @activity.defn(name="notify")
    async def notify(self, step: SendInput) -> SendResult:
        return await unbroken(self._send(step))

    async def _send(self, step: SendInput) -> SendResult:
        content, contact = await self.read(step)
        if contact is None:
            return SendResult(skipped="contact no longer exists")
        parts = self.render_all(content.templates, merge_fields(contact))
        if isinstance(parts, SendResult):
            return parts
        to = await self._recipients(content.fields["to"], content.fields.get("users") or [])
        email = OutgoingEmail(
            idempotency_key=step.key,
            enrollment_id=step.enrollment_id,
            step_id=step.step_id,
            contact_id=step.contact_id,
            to=", ".join(to),
            subject=parts["subject"],
            body=parts["body"],
            sender=content.fields["sender"],
            channel="internal",
        )
        try:
            return SendResult(message_id=await self.deps.outbox.send(email))
        except SmtpError as error:
            raise ApplicationError(f"SMTP: {error}", non_retryable=error.permanent) from None

    async def _recipients(self, to: list[str], user_ids: list[str]) -> list[str]:
        """`to`, then the users' emails, each address once. A user nobody
        created fails the step: the message would miss someone."""
        if not user_ids:
            return to
        emails = await self.db(lambda s: users.emails_of(s, user_ids))
        missing = [u for u in user_ids if u not in emails]
        if missing:
            raise ApplicationError(f"no user '{missing[0]}'", non_retryable=True)
        return list(dict.fromkeys([*to, *(emails[u] for u in user_ids)]))
