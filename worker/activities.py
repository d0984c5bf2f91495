"""Activities: all of the enrollment's I/O. Each is idempotent under its step
run's key, so a retry after a crash does not repeat an effect."""

from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session
from temporalio import activity
from temporalio.exceptions import ApplicationError

from shared.contracts import (
    AttributeInput,
    ContactSnapshot,
    FinishInput,
    HistoryChunk,
    MessageRef,
    RegisterInput,
    SendEmailInput,
    SendResult,
    SentMessagesInput,
    TagInput,
    TagResult,
)
from shared.domain.events import Event
from shared.services.events import EventBus
from shared.store import contacts, enrollments
from shared.store.db import Contact, EventRow, StepRun, run_db
from shared.store.events import from_row
from worker.content import ContentMismatch, step_content
from worker.email import EmailProvider, OutgoingEmail, RenderError, merge_fields, render


class Activities:
    def __init__(self, engine: Engine, bus: EventBus, email: EmailProvider):
        self.engine = engine
        self.bus = bus
        self.email = email

    def all(self) -> list[Any]:
        return [
            self.register_enrollment,
            self.load_contact,
            self.send_email,
            self.sent_messages,
            self.change_tag,
            self.update_attribute,
            self.save_history,
            self.finish_enrollment,
        ]

    def _session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    @activity.defn(name="register_enrollment")
    async def register_enrollment(self, entry: RegisterInput) -> list[Event]:
        def run() -> list[Event]:
            with self._session() as session:
                return enrollments.register(session, entry)

        return await run_db(self.engine, run)

    @activity.defn(name="load_contact")
    async def load_contact(self, contact_id: str) -> ContactSnapshot:
        def run() -> ContactSnapshot:
            with self._session() as session:
                contact = contacts.get_contact(session, contact_id)
                return ContactSnapshot(tags=contact.tags, attributes=contact.attributes)

        return await run_db(self.engine, run)

    @activity.defn(name="send_email")
    async def send_email(self, step: SendEmailInput) -> SendResult:
        def run() -> SendResult:
            try:
                content = step_content(
                    self.engine, step.automation_id, step.version, step.step_id, step.digest
                )
            except ContentMismatch as error:
                raise ApplicationError(str(error), non_retryable=True) from None
            with self._session() as session:
                contact = session.get(Contact, step.contact_id)
            if contact is None:
                return SendResult(skipped="contact no longer exists")
            if contact.blocklisted or contact.unsubscribed:
                return SendResult(
                    skipped="contact is " + ("blocklisted" if contact.blocklisted else "unsubscribed")
                )
            if not contact.email:
                return SendResult(skipped="contact has no email address")
            fields = merge_fields(contact)
            templates = content.templates
            try:
                subject, body = render(templates["subject"], fields), render(templates["body"], fields)
            except RenderError as error:
                raise ApplicationError(str(error), non_retryable=True) from None
            message_id = self.email.send(
                OutgoingEmail(
                    idempotency_key=step.key,
                    enrollment_id=step.enrollment_id,
                    step_id=step.step_id,
                    contact_id=step.contact_id,
                    to=contact.email,
                    subject=subject,
                    body=body,
                    sender=content.fields["sender"],
                )
            )
            return SendResult(message_id=message_id)

        return await run_db(self.engine, run)

    @activity.defn(name="sent_messages")
    async def sent_messages(self, asked: SentMessagesInput) -> list[MessageRef]:
        def run() -> list[MessageRef]:
            with self._session() as session:
                return enrollments.sent_messages(session, asked.enrollment_id, skip=asked.skip)

        return await run_db(self.engine, run)

    @activity.defn(name="change_tag")
    async def change_tag(self, step: TagInput) -> TagResult:
        """Tag steps are events like any other (G9): stored with the change, then
        signalled to the contact's other enrollments and returned to the one
        running the step, which applies it at once: a signal to itself would
        arrive while its workflow task is open. A retry returns the first run's
        answer and delivers whatever that run stored but did not deliver."""
        event_id = f"{step.key}/0"  # A tag step changes one tag: one event at most.
        retried: list[TagResult] = []

        def change(session: Session) -> list[Event]:
            run = session.get(StepRun, step.key)
            if run is not None:
                row = session.get(EventRow, event_id)
                events = [from_row(row)] if row else []
                retried.append(TagResult(changed=run.result["changed"], events=events))
                return []
            tags = {step.tag}
            events = contacts.change_tags(
                session,
                step.contact_id,
                event_id=step.key,
                add=tags if step.add else set(),
                remove=set() if step.add else tags,
            )
            session.add(StepRun(key=step.key, result={"changed": bool(events)}))
            return events

        events = await self.bus.commit_and_deliver(change, skip=step.enrollment_id)
        if retried:
            await self.bus.finish_delivery([event_id], skip=step.enrollment_id)
            return retried[0]
        return TagResult(changed=bool(events), events=events)

    @activity.defn(name="update_attribute")
    async def update_attribute(self, step: AttributeInput) -> dict[str, Any]:
        def run() -> dict[str, Any]:
            with self._session() as session:
                done = session.get(StepRun, step.key)
                if done is not None:
                    return done.result
                contact = contacts.get_contact(session, step.contact_id)
                attributes = dict(contact.attributes)
                old = attributes.get(step.attribute)
                match step.op:
                    case "set":
                        attributes[step.attribute] = step.value
                    case "unset":
                        attributes.pop(step.attribute, None)
                    case "increment" | "decrement":
                        amount = step.value if step.value is not None else 1
                        if not isinstance(old or 0, int | float) or not isinstance(amount, int | float):
                            raise ApplicationError(
                                f"cannot {step.op} '{step.attribute}' ({old!r}) by {amount!r}",
                                non_retryable=True,
                            )
                        sign = 1 if step.op == "increment" else -1
                        attributes[step.attribute] = (old or 0) + sign * amount
                contact.attributes = attributes
                result = {"attribute": step.attribute, "old": old, "new": attributes.get(step.attribute)}
                session.add(contact)
                session.add(StepRun(key=step.key, result=result))
                session.commit()
                return result

        return await run_db(self.engine, run)

    @activity.defn(name="save_history")
    async def save_history(self, chunk: HistoryChunk) -> None:
        def run() -> None:
            with self._session() as session:
                enrollments.save_history(session, chunk)

        await run_db(self.engine, run)

    @activity.defn(name="finish_enrollment")
    async def finish_enrollment(self, done: FinishInput) -> None:
        def run() -> None:
            with self._session() as session:
                enrollments.finish(session, done.view)

        await run_db(self.engine, run)
