"""API keys (SPEC §8): every route but the public ones needs a key whose scope
allows it; keys are made, listed and revoked with `goalflow keys`."""

import asyncio
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from shared.store import keys
from shared.store.db import ApiKey
from tests.conftest import Stack, binary, make_stack

pytestmark = pytest.mark.workflow

PUBLIC = ("/health", "/openapi.json", "/docs", "/redoc", "/schemas/automation.json")
# Tracking URLs: the signed token is the key.
TRACKING = "/t/"
# Providers' webhooks: the provider's signature is the key (tests/test_webhooks.py).
WEBHOOKS = "/webhooks/"
# What an event forwarder needs (the `events` scope); every other GET is `read`, the rest `admin`.
FORWARDER = {
    ("POST", "/events"), ("PUT", "/appointments/{appointment_id}"), ("POST", "/contacts"),
    ("PATCH", "/contacts/{contact_id}"), ("POST", "/contacts/{contact_id}/tags"),
    ("DELETE", "/contacts/{contact_id}/tags/{tag}"), ("POST", "/lists/{list_id}/members"),
    ("DELETE", "/lists/{list_id}/members/{contact_id}"),
}  # fmt: skip


# Reads that show more than a reader may see: the caught mail of `make run`.
ADMIN_READS = {("GET", "/dev/mailbox")}


def needed(method: str, path: str) -> str:
    if (method, path) in ADMIN_READS:
        return "admin"
    if (method, path) in FORWARDER:
        return "events"
    return "read" if method == "GET" else "admin"


@pytest_asyncio.fixture
async def guarded_stack(time_env: WorkflowEnvironment, engine: Engine) -> AsyncIterator[Stack]:
    async with make_stack(time_env.client, engine, time_env, auth=True) as stack:
        yield stack


async def test_every_route_needs_a_key_with_its_scope(guarded_stack: Stack) -> None:
    stack = guarded_stack
    with Session(stack.engine) as session:
        held = {scope: keys.create(session, scope, f"test {scope}")[1] for scope in keys.SCOPES}
    paths = create_app().openapi()["paths"]
    routes = [
        (m.upper(), path)
        for path, methods in paths.items()
        for m in methods
        if path not in PUBLIC and not path.startswith((TRACKING, WEBHOOKS))
    ]
    assert len(routes) >= 18
    for method, path in routes:
        url, scope = re.sub(r"\{[^}]+\}", "x", path), needed(method, path)
        assert paths[path][method.lower()]["responses"].keys() >= {"401", "403"}, (method, path)

        async def call(key: str | None, method: str = method, url: str = url) -> int:
            headers = {"Authorization": f"Bearer {key}"} if key else {}
            return (await stack.http.request(method, url, headers=headers, json={})).status_code

        assert await call(None) == 401, (method, url)
        assert await call("gf_not-a-key") == 401, (method, url)
        for other in keys.SCOPES:
            status = await call(held[other])
            assert (status == 403) is (other not in (scope, "admin")) and status != 401, (
                method,
                url,
                other,
                status,
            )
    for path in PUBLIC:
        assert (await stack.http.get(path)).status_code == 200, path
    # A webhook asks for no key: what it refuses is a request its provider did not sign.
    refused = await stack.http.post("/webhooks/twilio", data={"Body": "STOP"})
    assert refused.json() == {"detail": "not signed by Twilio with this account's auth token"}


async def test_keys_are_made_listed_and_revoked_with_the_goalflow_command(
    time_env: WorkflowEnvironment, engine: Engine
) -> None:
    env = {**os.environ, "GOALFLOW_DATABASE_URL": engine.url.render_as_string(hide_password=False)}

    async def goalflow(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        command = [binary("goalflow") or "goalflow", *args]
        done = await asyncio.to_thread(subprocess.run, command, env=env, capture_output=True, text=True)
        assert (done.returncode == 0) is ok, done.stderr
        return done

    made = (await goalflow("keys", "create", "--scope", "read", "--name", "dashboard")).stdout.splitlines()
    key, key_id = made[-1], made[0].split()[1]
    with Session(engine) as session:  # Kept hashed, never as it is.
        assert [k.hash for k in session.exec(select(ApiKey))] == [keys.digest(key)]
    listing = (await goalflow("keys", "list")).stdout.splitlines()
    (listed,) = [line for line in listing if line.startswith(key_id)]
    assert listed.split("\t")[1:3] == ["read", "dashboard"] and listed.endswith("active")

    bearer = {"Authorization": f"Bearer {key}"}
    async with make_stack(time_env.client, engine, time_env, auth=True) as stack:
        assert (await stack.http.get("/automations", headers=bearer)).status_code == 200
        assert (await stack.http.post("/contacts", json={}, headers=bearer)).status_code == 403
    assert (await goalflow("keys", "revoke", key_id)).stdout.strip() == f"revoked {key_id}"
    async with make_stack(time_env.client, engine, time_env, auth=True) as stack:
        assert (await stack.http.get("/automations", headers=bearer)).status_code == 401
    assert "--scope" in (await goalflow("keys", "create", "--scope", "root", ok=False)).stderr


def test_the_api_refuses_to_listen_beyond_loopback_without_keys() -> None:
    env = {**os.environ, "GOALFLOW_AUTH": "off"}
    done = subprocess.run(
        [sys.executable, "-m", "api", "--host", "0.0.0.0", "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0
    assert "GOALFLOW_AUTH is off" in done.stderr and "loopback" in done.stderr
