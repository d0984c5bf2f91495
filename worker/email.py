"""Email: rendering with merge fields, and the providers that deliver."""

import hashlib
from dataclasses import dataclass
from typing import Any, Protocol

from jinja2 import Template, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from shared.store.db import Contact, Message, insert_new, run_db, utcnow

_templates = ImmutableSandboxedEnvironment()


class RenderError(ValueError):
    pass


def merge_fields(contact: Contact) -> dict[str, Any]:
    fields = contact.model_dump(include={"id", "email", "phone", "first_name", "last_name", "timezone"})
    return {"contact": {**contact.attributes, **fields, "tags": list(contact.tags)}}


def compile_template(source: str) -> Template:
    return _templates.from_string(source)


def render(template: Template, fields: dict[str, Any]) -> str:
    """Render in a sandbox: a template cannot reach Python objects or mutate data."""
    try:
        return template.render(fields)
    except TemplateError as error:
        raise RenderError(f"template error: {error}") from None
    except Exception as error:  # A template's own runtime error, such as a division by zero.
        raise RenderError(f"template error: {type(error).__name__}: {error}") from None


@dataclass(frozen=True)
class OutgoingEmail:
    idempotency_key: str
    enrollment_id: str
    step_id: str
    contact_id: str
    to: str
    subject: str
    body: str
    sender: str | None = None


class EmailProvider(Protocol):
    async def send(self, email: OutgoingEmail) -> str:
        """Deliver `email` at most once per idempotency key; return its message id.
        A provider that talks to the network does so on the event loop, never on
        the database thread."""
        ...


def message_id_for(key: str) -> str:
    # Derived from the key, so a retried send names the same message.
    return "msg_" + hashlib.sha256(key.encode()).hexdigest()[:20]


class OutboxProvider:
    """The built-in provider: messages land in the `messages` table, which the
    API lists (`GET /contacts/{id}/messages`)."""

    def __init__(self, engine: Engine):
        self.engine = engine

    async def send(self, email: OutgoingEmail) -> str:
        return await run_db(self.engine, lambda: self._store(email))

    def _store(self, email: OutgoingEmail) -> str:
        message_id = message_id_for(email.idempotency_key)
        with Session(self.engine) as session:
            if insert_new(session, Message, message_id=message_id, created_at=utcnow(), **email.__dict__):
                session.commit()
                return message_id
            # A retry of a send that already went out.
            return session.exec(
                select(Message.message_id).where(Message.idempotency_key == email.idempotency_key)
            ).one()
