"""Email: rendering with merge fields, and the message a send hands to the outbox."""

from dataclasses import dataclass
from typing import Any

from jinja2 import Template, TemplateError, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from shared.store.db import Contact


class RenderError(ValueError):
    pass


class MissingField(RenderError):
    """A template printed a merge field the contact lacks, with no `| default(...)`."""

    def __init__(self, field: str):
        super().__init__(f"missing merge field {field}")
        self.field = field


class _Missing(Undefined):
    """A field the contact lacks: false and empty in tests and loops, and
    `| default(...)` replaces it, but printing it stops the send: a message
    never goes out with a hole in it."""

    __slots__ = ()

    def _fail_with_undefined_error(self, *args: Any, **kwargs: Any) -> Any:
        # The only mapping a template reads fields of is the contact.
        owner = "contact." if isinstance(self._undefined_obj, dict) else ""
        raise MissingField(f"{owner}{self._undefined_name}")

    def __str__(self) -> str:
        return self._fail_with_undefined_error()  # type: ignore[no-any-return]


_templates = ImmutableSandboxedEnvironment(undefined=_Missing)


def merge_fields(contact: Contact) -> dict[str, Any]:
    """What templates read as `contact`: its attributes and fields; a field
    without a value is missing, not "None"."""
    fields = contact.model_dump(include={"id", "email", "phone", "first_name", "last_name", "timezone"})
    known = {k: v for k, v in {**contact.attributes, **fields}.items() if v is not None}
    return {"contact": {**known, "tags": list(contact.tags)}}


def compile_template(source: str) -> Template:
    return _templates.from_string(source)


def render(template: Template, fields: dict[str, Any]) -> str:
    """Render in a sandbox: a template cannot reach Python objects or mutate data."""
    try:
        return template.render(fields)
    except MissingField:
        raise
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
    # email, or internal: a notify step's, to the team.
    channel: str = "email"
