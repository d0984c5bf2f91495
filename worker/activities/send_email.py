"""`send_email`: the content by reference, the contact, then rendering and the
provider's send, off the database thread."""

from collections.abc import Callable
from typing import Any

from sqlmodel import Session
from temporalio import activity
from temporalio.exceptions import ApplicationError

from shared.settings import settings
from shared.store.contacts import consent_of
from shared.store.db import Contact, utcnow
from shared.store.links import known_links
from worker.activities.base import ActivityGroup, unbroken
from worker.content import ContentMismatch, StepContent, step_content
from worker.email import MissingField, OutgoingEmail, RenderError, merge_fields, render
from worker.outbox import DailyLimitReached, message_id_for
from worker.smtp import SmtpError
from worker.steps.send_email import SendEmailInput, SendResult


class SendEmailActivities(ActivityGroup):
    def all(self) -> list[Callable[..., Any]]:
        return [self.send_email]

    @activity.defn(name="send_email")
    async def send_email(self, step: SendEmailInput) -> SendResult:
        return await unbroken(self._send(step))

    async def _send(self, step: SendEmailInput) -> SendResult:
        def read(session: Session) -> tuple[StepContent, Contact | None]:
            content = step_content(self.engine, step.automation_id, step.version, step.step_id, step.digest)
            return content, session.get(Contact, step.contact_id)

        try:
            content, contact = await self.db(read)
        except ContentMismatch as error:
            raise ApplicationError(str(error), non_retryable=True) from None
        if contact is None:
            return SendResult(skipped="contact no longer exists")
        if step.window is not None:
            now = max(step.asked_at or utcnow(), utcnow())
            opens = step.window.opens(now, contact.timezone or settings().timezone)
            if opens is not None:
                return SendResult(held_until=opens)
        if contact.blocklisted:
            return SendResult(skipped="contact is blocklisted")
        consent = consent_of(contact, "email")
        if consent != "subscribed":
            return SendResult(skipped=f"contact is {consent}")
        if not contact.email:
            return SendResult(skipped="contact has no email address")
        message_id = message_id_for(step.key)
        links: set[str] = set()
        fields = {**merge_fields(contact), "trigger_link": self._trigger_link(contact.id, message_id, links)}
        try:
            subject, body, html = (
                render(content.templates[name], fields) if name in content.templates else None
                for name in ("subject", "body", "html")
            )
        except MissingField as error:
            return SendResult(skipped=str(error))
        except RenderError as error:
            raise ApplicationError(str(error), non_retryable=True) from None
        missing = sorted(links - set(await self.db(lambda s: known_links(s, links)))) if links else []
        if missing:
            raise ApplicationError(f"no trigger link '{missing[0]}'", non_retryable=True)
        tracker = self.deps.tracker
        unsubscribe = None
        if tracker is not None:
            body = tracker.text(body, message_id, contact.id)  # type: ignore[arg-type]
            html = html and tracker.html(html, message_id, contact.id)
            unsubscribe = tracker.unsubscribe_url(message_id, contact.id)
        email = OutgoingEmail(
            idempotency_key=step.key,
            enrollment_id=step.enrollment_id,
            step_id=step.step_id,
            contact_id=step.contact_id,
            to=contact.email,
            subject=subject,  # type: ignore[arg-type]
            body=body,  # type: ignore[arg-type]
            html=html,
            sender=content.fields["sender"],
        )
        try:
            return SendResult(message_id=await self.deps.outbox.send(email, unsubscribe))
        except DailyLimitReached:
            return SendResult(skipped="daily send limit reached")
        except SmtpError as error:
            # A 5xx reply is final; anything else is tried again within the send's bound.
            raise ApplicationError(f"SMTP: {error}", non_retryable=error.permanent) from None

    def _trigger_link(self, contact_id: str, message_id: str, used: set[str]) -> Callable[[str], str]:
        """`{{ trigger_link("lnk_1") }}`: this contact's tracked URL of that link."""

        def trigger_link(link_id: str) -> str:
            if self.deps.tracker is None:
                raise RenderError("trigger links need GOALFLOW_SECRET_KEY, which signs them")
            used.add(link_id)
            return self.deps.tracker.link_url(contact_id, link_id, message_id)

        return trigger_link
