"""Email: rendering with merge fields, and the message a send hands to the outbox."""

from dataclasses import dataclass
from typing import Any

from jinja2 import Template, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from shared.store.db import Contact

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
    html: str | None = None
