"""The HTTP API: parses requests, calls a service (`shared.services`), and
answers with its view, or with the status code of what it refused."""

import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, Response
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from api import auth as keys
from api import definition_schema
from api.limits import BodyLimit
from api.routers import (
    appointments,
    automations,
    bulk,
    contacts,
    conversions,
    deals,
    dev,
    enrollments,
    events,
    health,
    links,
    lists,
    senders,
    tasks,
    tracking,
    twilio,
    users,
    webhooks,
)
from shared.domain.definition import DefinitionError
from shared.domain.errors import Conflict, NotFound, Unavailable
from shared.domain.limits import DEFINITION_BYTES
from shared.domain.providers import Malformed, Unsigned
from shared.services import triggers
from shared.services.context import Services
from shared.services.webhook_keys import WebhookKeys
from shared.settings import settings
from shared.store import db
from shared.temporal import connect

log = logging.getLogger("goalflow.api")


def create_app(
    engine: Engine | None = None,
    client: Client | None = None,
    task_queue: str | None = None,
    auth: bool | None = None,
    webhook_keys: WebhookKeys | None = None,
) -> FastAPI:
    """The app; tests pass their own engine, client, task queue, auth and webhook keys."""
    required = settings().auth if auth is None else auth

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.engine = engine or db.engine()
        app.state.auth = required
        app.state.keys = keys.KeyRing(app.state.engine)
        app.state.services = Services(
            app.state.engine,
            client or await connect(),
            task_queue or settings().task_queue,
            secret_key=settings().secret_key,
            public_url=settings().public_url,
            twilio_auth_token=settings().twilio_auth_token,
            webhooks=webhook_keys or _webhook_keys(),
        )
        # Deliver what a crash between storing and signalling left behind.
        count = await app.state.services.bus.redeliver_pending()
        if count:
            log.info("redelivered %d events left undelivered", count)
        count = await triggers.fire_pending(app.state.services)
        if count:
            log.info("started %d enrollments from triggers left unfired", count)
        yield

    app = FastAPI(
        title="goalflow",
        summary="Marketing automations with goals, run as Temporal workflows",
        version="0.1.0",
        lifespan=lifespan,
        # One schema per model: the definition's steps are the same going in (api.definition_schema) and out.
        separate_input_output_schemas=False,
    )
    for module in (
        health,
        contacts,
        automations,
        enrollments,
        bulk,
        conversions,
        events,
        appointments,
        links,
        lists,
        senders,
        tracking,
        twilio,
        webhooks,
        users,
        deals,
        tasks,
        dev,
        definition_schema,
    ):
        app.include_router(module.router)
    definition_schema.document(app)
    keys.document(app, required)
    app.add_middleware(BodyLimit, limit=DEFINITION_BYTES)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        if error.status_code == 405:
            # The router names only the first route of the path; the path may have more.
            allowed = ", ".join(_methods_of(request.app, request.url.path))
            headers = {"Allow": allowed} if allowed else error.headers
            return JSONResponse({"detail": error.detail}, status_code=405, headers=headers)
        return await http_exception_handler(request, error)

    @app.exception_handler(NotFound)
    async def not_found(_: Request, error: NotFound) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=404)

    @app.exception_handler(Unsigned)
    async def unsigned(_: Request, error: Unsigned) -> JSONResponse:
        challenge = {"WWW-Authenticate": 'Basic realm="goalflow webhooks"'}
        return JSONResponse({"detail": str(error)}, status_code=401, headers=challenge)

    @app.exception_handler(Malformed)
    async def malformed(_: Request, error: Malformed) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=400)

    @app.exception_handler(Conflict)
    async def conflict(_: Request, error: Conflict) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=409)

    @app.exception_handler(Unavailable)
    async def unavailable(_: Request, error: Unavailable) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=503)

    @app.exception_handler(DefinitionError)
    async def bad_definition(_: Request, error: DefinitionError) -> JSONResponse:
        detail: list[dict[str, Any]] = [
            {"loc": ["body", *p.loc], "msg": p.msg, "type": p.type} for p in error.problems
        ]
        return JSONResponse({"detail": detail}, status_code=422)

    @app.exception_handler(RPCError)
    async def temporal_down(_: Request, error: RPCError) -> JSONResponse:
        if error.status == RPCStatusCode.INVALID_ARGUMENT and "size exceeds limit" in error.message:
            # The limits on events and definitions keep payloads well below Temporal's;
            # should one still pass, it is not an outage.
            log.error("Temporal refused a payload as too large: %s", error)
            return JSONResponse({"detail": f"too large for Temporal: {error.message}"}, status_code=413)
        log.warning("Temporal call failed: %s", error)
        return JSONResponse({"detail": f"Temporal unavailable: {error.message}"}, status_code=503)

    @app.exception_handler(OperationalError)
    async def database_down(_: Request, error: OperationalError) -> JSONResponse:
        log.warning("database call failed: %s", error)
        return JSONResponse({"detail": "database unavailable"}, status_code=503)

    return app


def _webhook_keys() -> WebhookKeys:
    config = settings()
    return WebhookKeys(
        mailgun_signing_key=config.mailgun_webhook_signing_key,
        sendgrid_public_key=config.sendgrid_webhook_public_key,
        sendgrid_inbound_key=config.sendgrid_inbound_key,
        postmark_user=config.postmark_webhook_user,
        postmark_password=config.postmark_webhook_password,
    )


def _methods_of(app: FastAPI, path: str) -> list[str]:
    """Every method the routes matching `path` take, HEAD with GET."""
    patterns = getattr(app.state, "method_patterns", None)
    if patterns is None:
        patterns = app.state.method_patterns = [
            (re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"), methods)
            for template, methods in app.openapi()["paths"].items()
        ]
    found = {m.upper() for pattern, methods in patterns if pattern.match(path) for m in methods}
    return sorted(found | ({"HEAD"} if "GET" in found else set()))


app = create_app()
