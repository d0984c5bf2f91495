"""What the send activities share: the step's content and its contact, the
sending rules that hold or skip a send (SPEC §2, in their order), and
rendering with merge fields and trigger links.

A message to the contact (email, SMS, WhatsApp) is held while its automation
is paused: the activity reads the flag, which the workflow cannot, records the
enrollment as held (`shared.store.pauses`) and answers `paused`; the resume's
signal releases it. Internal notifications are not held."""

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from jinja2 import Template
from sqlmodel import Session
from temporalio.exceptions import ApplicationError

from shared.settings import settings
from shared.store import pauses
from shared.store.contacts import consent_of
from shared.store.db import Contact, utcnow
from shared.store.links import known_links
from worker.activities.base import ActivityGroup
from worker.content import ContentMismatch, StepContent, step_content
from worker.email import MissingField, RenderError, merge_fields, render
from worker.steps.sending import SendInput, SendResult

NO_ADDRESS = {
    "email": "contact has no email address",
    "sms": "contact has no phone number",
    "whatsapp": "contact has no phone number",
}


def now(step: SendInput) -> datetime:
    """The time a send is judged at: the workflow's when it asked, or later."""
    return max(step.asked_at or utcnow(), utcnow())


class Sends(ActivityGroup):
    async def read(self, step: SendInput) -> tuple[StepContent, Contact | None]:
        """The step's content, checked against its digest, and its contact."""
        read = await self._read(step, to_contact=False)
        assert not isinstance(read, SendResult)
        return read

    async def read_unless_paused(self, step: SendInput) -> tuple[StepContent, Contact | None] | SendResult:
        """`read`, for a message to the contact, unless rule 1 holds it: the
        automation is paused (recorded as held, in the same database call)."""
        return await self._read(step, to_contact=True)

    async def _read(
        self, step: SendInput, to_contact: bool
    ) -> tuple[StepContent, Contact | None] | SendResult:
        def read(session: Session) -> tuple[StepContent, Contact | None] | SendResult:
            if to_contact:
                pause = pauses.hold_if_paused(session, step.automation_id, step.enrollment_id, step.step_id)
                if pause is not None:
                    return SendResult(paused=pause)
            content = step_content(self.engine, step.automation_id, step.version, step.step_id, step.digest)
            return content, session.get(Contact, step.contact_id)

        try:
            return await self.db(read)
        except ContentMismatch as error:
            raise ApplicationError(str(error), non_retryable=True) from None

    def ruled_out(self, step: SendInput, contact: Contact, channel: str, to: str | None) -> SendResult | None:
        """Rules 1 and 2: held while the send window is closed (the pause is
        checked as the step is read); skipped for a contact blocklisted,
        without consent on `channel`, or with no address."""
        if step.window is not None:
            opens = step.window.opens(now(step), contact.timezone or settings().timezone)
            if opens is not None:
                return SendResult(held_until=opens)
        if contact.blocklisted:
            return SendResult(skipped="contact is blocklisted")
        consent = consent_of(contact, channel)
        if consent != "subscribed":
            return SendResult(
                skipped=f"contact is {consent}" + ("" if channel == "email" else f" from {channel}")
            )
        if not to:
            return SendResult(skipped=NO_ADDRESS[channel])
        return None

    def fields(self, contact: Contact, message_id: str, links: set[str]) -> dict[str, Any]:
        """What templates read: the contact's merge fields, and `trigger_link`,
        which adds each link it makes to `links`."""
        return {**merge_fields(contact), "trigger_link": self._trigger_link(contact.id, message_id, links)}

    @staticmethod
    def render_all(templates: Mapping[str, Template], fields: dict[str, Any]) -> dict[str, str] | SendResult:
        """Rule 3: every template rendered, or the send skipped for the merge
        field a contact lacks. A template that fails otherwise fails the step."""
        try:
            return {name: render(template, fields) for name, template in templates.items()}
        except MissingField as error:
            return SendResult(skipped=str(error))
        except RenderError as error:
            raise ApplicationError(str(error), non_retryable=True) from None

    async def check_links(self, links: set[str]) -> None:
        """A trigger link a template names must exist: it fails the step, not the contact's click."""
        missing = sorted(links - set(await self.db(lambda s: known_links(s, links)))) if links else []
        if missing:
            raise ApplicationError(f"no trigger link '{missing[0]}'", non_retryable=True)

    def _trigger_link(self, contact_id: str, message_id: str, used: set[str]) -> Callable[[str], str]:
        """`{{ trigger_link("lnk_1") }}`: this contact's tracked URL of that link."""

        def trigger_link(link_id: str) -> str:
            if self.deps.tracker is None:
                raise RenderError("trigger links need GOALFLOW_SECRET_KEY, which signs them")
            used.add(link_id)
            return self.deps.tracker.link_url(contact_id, link_id, message_id)

        return trigger_link
