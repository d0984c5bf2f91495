"""`call_webhook`: the step's URL, headers and body by reference, rendered with
the contact's merge fields, sent signed (Standard Webhooks) through the guard
of `worker/webhooks.py`; the answer's values named in `save` set contact
attributes as `update_attribute` sets them.

Once per step run: the outcome is stored under the step run's key, so a retry
after it was stored calls nothing again. A retry before that (a crash, a 5xx)
calls again with the same `webhook-id`, which lets the receiver drop it."""

import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from jinja2 import Template, TemplateError
from sqlmodel import Session
from temporalio import activity
from temporalio.exceptions import ApplicationError

from shared.domain import standard_webhooks
from shared.domain.json_path import extract, parse_path
from shared.settings import settings
from shared.store.db import Contact, StepRun
from worker.activities.base import unbroken
from worker.activities.sending import Sends
from worker.activities.update_attribute import set_attribute
from worker.email import MissingField, RenderError, compile_template, merge_fields, render
from worker.steps.webhook import (
    CANNOT,
    REFUSED,
    REJECTED,
    SERVER_ERROR,
    UNREACHABLE,
    WebhookInput,
    WebhookResult,
)
from worker.webhooks import Answer, Refused, Request, Unreachable, call

# What a failed step's history keeps of an answer's body.
BODY_START = 500
# A saved value the history shows as it is; a longer one by its size (it goes into the workflow's state).
SHOWN_BYTES = 1000
NO_SECRET = "webhook steps need GOALFLOW_WEBHOOK_SECRET (whsec_ + base64), which signs their requests"


class WebhookActivities(Sends):
    def all(self) -> list[Callable[..., Any]]:
        return [self.call_webhook]

    @activity.defn(name="call_webhook")
    async def call_webhook(self, step: WebhookInput) -> WebhookResult:
        return await unbroken(self._call(step))

    async def _call(self, step: WebhookInput) -> WebhookResult:
        done = await self.db(lambda s: s.get(StepRun, step.key))
        if done is not None:
            return WebhookResult.model_validate(done.result)
        config = settings()
        if config.webhook_secret is None:
            raise ApplicationError(NO_SECRET, type=CANNOT, non_retryable=True)
        content, contact = await self.read(step)
        if contact is None:
            return WebhookResult(skipped="contact no longer exists")
        try:
            request = _request(step, content.templates["url"], content.fields, merge_fields(contact))
        except MissingField as error:
            return WebhookResult(skipped=str(error))
        except RenderError as error:
            raise ApplicationError(str(error), type=CANNOT, non_retryable=True) from None
        key, webhook_id = config.webhook_secret, standard_webhooks.message_id(step.key)

        def sign(body: bytes) -> dict[str, str]:
            # A fresh timestamp per attempt: receivers refuse old ones (five minutes, as the spec advises).
            return standard_webhooks.headers(key, webhook_id, int(time.time()), body)

        try:
            answer = await call(request, config.webhook_allowed_hosts, step.timeout_seconds, sign)
        except Refused as error:
            raise ApplicationError(str(error), type=REFUSED, non_retryable=True) from None
        except Unreachable as error:
            raise ApplicationError(str(error), type=UNREACHABLE) from None
        _judge(answer)
        saved, missing = _values(step.save, answer)
        result = WebhookResult(status=answer.status, webhook_id=webhook_id, missing=missing)
        return await self.db(lambda s: _store(s, step, contact, result, saved))


def _request(step: WebhookInput, url: Template, fields: Mapping[str, Any], merge: dict[str, Any]) -> Request:
    """The request the step makes for this contact. MissingField: a merge field
    the contact lacks; RenderError: a template that fails, or a result that cannot go."""
    headers = {name: _render(value, merge) for name, value in fields["headers"].items()}
    for name, value in headers.items():
        if any(c in value for c in "\r\n\0"):
            raise RenderError(f"the {name} header has a line break once rendered")
    body = None
    if fields["body"] is not None:
        body = _body(fields["body"], merge)
        if not any(name.lower() == "content-type" for name in headers):
            headers["Content-Type"] = "application/json"
    return Request(method=step.method, url=render(url, merge).strip(), headers=headers, body=body)


def _body(template: Any, merge: dict[str, Any]) -> bytes:
    """A JSON value with each string rendered as a string; or one string, the
    JSON text itself, which must be JSON once rendered."""
    if isinstance(template, str):
        text = _render(template, merge)
        try:
            json.loads(text)
        except ValueError as error:
            raise RenderError(f"the body is not JSON once rendered: {error}") from None
        return text.encode()
    return json.dumps(_rendered(template, merge), ensure_ascii=False, separators=(",", ":")).encode()


def _rendered(value: Any, merge: dict[str, Any]) -> Any:
    if isinstance(value, str):
        return _render(value, merge)
    if isinstance(value, dict):
        return {k: _rendered(v, merge) for k, v in value.items()}
    if isinstance(value, list):
        return [_rendered(v, merge) for v in value]
    return value


def _render(source: str, merge: dict[str, Any]) -> str:
    """Headers and body are short: compiled at each call, as WhatsApp's variables are."""
    try:
        template = compile_template(source)
    except TemplateError as error:
        raise RenderError(f"template error: {error}") from None
    return render(template, merge)


def _judge(answer: Answer) -> None:
    """A 2xx goes on; a 5xx is tried again; anything else fails the step, with
    the status and the start of the body in its history."""
    if 200 <= answer.status < 300:
        return
    detail = {"status": answer.status, "body": answer.body[:BODY_START].decode(errors="replace")}
    if answer.status >= 500:
        raise ApplicationError(f"the server answered {answer.status}", detail, type=SERVER_ERROR)
    raise ApplicationError(f"the server answered {answer.status}", detail, type=REJECTED, non_retryable=True)


def _values(save: dict[str, str], answer: Answer) -> tuple[dict[str, Any], list[str]]:
    """The answer's values named in `save`, and the attributes whose path it lacks."""
    if not save:
        return {}, []
    start = answer.body[:BODY_START].decode(errors="replace")
    try:
        if answer.cut:
            raise ValueError(f"it is longer than {len(answer.body):,} bytes")
        document = json.loads(answer.body)
    except ValueError as error:
        raise ApplicationError(
            f"the answer is not JSON, so nothing could be saved: {error}",
            {"status": answer.status, "body": start},
            type=REJECTED,
            non_retryable=True,
        ) from None
    saved, missing = {}, []
    for attribute, path in save.items():
        found, value = extract(document, parse_path(path))
        if found:
            saved[attribute] = value
        else:
            missing.append(attribute)
    return saved, missing


def _store(
    session: Session, step: WebhookInput, contact: Contact, result: WebhookResult, saved: dict[str, Any]
) -> WebhookResult:
    """Each attribute set under its own key (a retry sets none twice), then the outcome."""
    if session.get(Contact, contact.id) is None:
        result.skipped = "contact no longer exists"
    for attribute, value in saved.items() if result.skipped is None else ():
        changed = set_attribute(session, f"{step.key}/save/{attribute}", contact.id, attribute, value)
        result.saved[attribute] = _shown(changed["new"])
    session.add(StepRun(key=step.key, result=result.model_dump(mode="json")))
    session.commit()
    return result


def _shown(value: Any) -> Any:
    length = len(json.dumps(value, ensure_ascii=False).encode())
    return value if length <= SHOWN_BYTES else f"({length:,} bytes of JSON)"
