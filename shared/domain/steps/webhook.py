"""`webhook`: an HTTP call to another system about the contact (SPEC §2),
signed per Standard Webhooks; values of its JSON answer can become contact
attributes (`save`). The URL, the header values and the strings of the body
are Jinja2 templates with the merge fields of emails; they stay in the
database like a message's content. Where the call may go is
`shared.domain.outbound`."""

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, JsonValue, field_validator

from shared.domain.durations import Duration
from shared.domain.json_path import parse_path
from shared.domain.limits import TEMPLATE_BYTES, size
from shared.domain.merge_fields import EVERY_CONTACT_HAS, skip_warnings, syntax_error
from shared.domain.steps.base import Flow, Problem, StepBase

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
# An HTTP header name (RFC 9110 token).
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
# goalflow sets these itself on every call.
RESERVED_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    }
)
MAX_TIMEOUT = timedelta(minutes=2)


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


def _path(value: str) -> str:
    parse_path(value)
    return value


Method = Annotated[Literal["GET", "POST", "PUT", "PATCH", "DELETE"], BeforeValidator(_upper)]
JsonPath = Annotated[str, Field(max_length=500), AfterValidator(_path)]
AttributeName = Annotated[str, Field(min_length=1, max_length=200)]


class Webhook(StepBase):
    CONTENT = ("url", "headers", "body")
    TEMPLATES = ("url",)

    type: Literal["webhook"]
    method: Method = "POST"
    url: str = Field(min_length=1, max_length=8192)
    headers: dict[str, str] = Field(default_factory=dict, max_length=50)
    # A JSON value whose strings are templates, each rendered to a string; or one
    # string, a template of the JSON text itself (`{{ contact.x | tojson }}`).
    body: JsonValue = None
    # One attempt, redirects included.
    timeout: Duration = timedelta(seconds=10)
    max_attempts: int = Field(default=5, ge=1, le=20)
    # Contact attribute <- a path in the JSON answer (`shared.domain.json_path`).
    save: dict[AttributeName, JsonPath] = Field(default_factory=dict, max_length=50)

    @field_validator("timeout")
    @classmethod
    def _bounded(cls, value: timedelta) -> timedelta:
        if value > MAX_TIMEOUT:
            raise ValueError(f"at most {int(MAX_TIMEOUT.total_seconds())} seconds (PT2M)")
        return value

    def problems(self, position: int, flow: Flow) -> list[Problem]:
        problems = []
        if not self.url.startswith(("http://", "https://", "{")):
            problems.append(self.problem(position, "url", "the URL starts with http:// or https://"))
        for name, value in self.headers.items():
            if not _TOKEN.match(name) or len(name) > 100:
                problems.append(
                    self.problem(position, "headers", f"'{name[:100]}' is not a header name", name)
                )
            elif name.lower() in RESERVED_HEADERS:
                problems.append(
                    self.problem(position, "headers", f"goalflow sets the {name} header itself", name)
                )
            elif error := syntax_error(value):
                problems.append(self.problem(position, "headers", error, name))
        if self.body is not None and self.method == "GET":
            problems.append(self.problem(position, "body", "a GET request has no body"))
        length = len(json.dumps(self.body, ensure_ascii=False).encode())
        if length > TEMPLATE_BYTES:
            problems.append(
                self.problem(
                    position, "body", f"body is {length:,} bytes; it may be at most {size(TEMPLATE_BYTES)}"
                )
            )
        else:
            errors = {error for text in body_templates(self.body) if (error := syntax_error(text))}
            problems += [self.problem(position, "body", error) for error in sorted(errors)]
        return problems

    def warnings(self) -> list[str]:
        templates = (self.url, *self.headers.values(), *body_templates(self.body))
        return skip_warnings(self.id, templates, EVERY_CONTACT_HAS)


def body_templates(body: Any) -> Iterator[str]:
    """The strings of a body: each one a template."""
    if isinstance(body, str):
        yield body
    elif isinstance(body, dict):
        for value in body.values():
            yield from body_templates(value)
    elif isinstance(body, list):
        for value in body:
            yield from body_templates(value)


MODEL = Webhook
