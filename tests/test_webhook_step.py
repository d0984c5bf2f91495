"""`webhook` (SPEC §2, §8): a signed HTTP call to a real server on loopback,
allowlisted by its one port, on the time-skipping server and both databases.
The signature is checked with the Standard Webhooks reference library; 5xx are
retried and 4xx are not; `save` sets contact attributes; and a target outside
the allowlist, first or after a redirect, gets no connection at all (servers
that count them prove it). Only loopback is ever called: the address
classifier's other ranges are tested as a pure function."""

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from ipaddress import ip_address
from typing import Any

import pytest
import pytest_asyncio
from standardwebhooks import Webhook as Verifier
from temporalio.testing import ActivityEnvironment

from shared.domain import standard_webhooks
from shared.domain.definition import DefinitionError, parse_definition
from shared.domain.json_path import extract, parse_path
from shared.domain.outbound import is_allowed, parse_allowed, refusal
from shared.services.events import EventBus
from shared.settings import settings
from tests.conftest import Stack
from worker.activities.base import Deps
from worker.activities.webhook import WebhookActivities
from worker.outbox import Outbox
from worker.steps.webhook import WebhookInput
from worker.webhooks import Request, call

SECRET = "whsec_" + base64.b64encode(b"goalflow-webhook-test-key-32-by").decode()


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """An HTTP server on loopback that counts connections and answers from a
    script, in order (the last answer repeats). An answer of None never comes."""

    answers: list[tuple[int, dict[str, str], bytes] | None]
    connections: int = 0
    requests: list[Received] = field(default_factory=list)
    port: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        lines = head.split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        self.requests.append(Received(method, path, headers, body))
        answer = self.answers[min(len(self.requests), len(self.answers)) - 1]
        if answer is None:
            await reader.read()  # No answer, until the caller gives up and hangs up.
            writer.close()
            return
        status, extra, content = answer
        more = "".join(f"{k}: {v}\r\n" for k, v in extra.items())
        writer.write(
            f"HTTP/1.1 {status} X\r\nContent-Length: {len(content)}\r\n{more}Connection: close\r\n\r\n".encode()
            + content
        )
        await writer.drain()
        writer.close()


async def serve(
    host: str, answers: list[tuple[int, dict[str, str], bytes] | None], port: int = 0
) -> tuple[Receiver, asyncio.Server]:
    receiver = Receiver(answers)
    server = await asyncio.start_server(receiver.handle, host, port)
    receiver.port = server.sockets[0].getsockname()[1]
    return receiver, server


def ok(document: Any = None, status: int = 200) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json"}, json.dumps(document or {}).encode()


Allow = Callable[..., None]


@pytest.fixture
def allow() -> Iterator[Allow]:
    """GOALFLOW_WEBHOOK_SECRET, and `allow("127.0.0.1:8080", ...)` sets
    GOALFLOW_WEBHOOK_ALLOWED_HOSTS, for one test."""
    with pytest.MonkeyPatch.context() as env:

        def allowing(*hosts: str, secret: str | None = SECRET) -> None:
            env.setenv("GOALFLOW_WEBHOOK_ALLOWED_HOSTS", ",".join(hosts))
            if secret is None:
                env.delenv("GOALFLOW_WEBHOOK_SECRET", raising=False)
            else:
                env.setenv("GOALFLOW_WEBHOOK_SECRET", secret)
            settings.cache_clear()

        yield allowing
    settings.cache_clear()


@pytest_asyncio.fixture
async def receiver(allow: Allow) -> AsyncIterator[Receiver]:
    """The allowlisted server, on 127.0.0.1 and its one port; it answers 200 `{}` unless told otherwise."""
    found, server = await serve("127.0.0.1", [ok()])
    allow(f"127.0.0.1:{found.port}")
    async with server:
        yield found


def hook(step_id: str, port: int, **fields: Any) -> dict[str, Any]:
    return {"id": step_id, "type": "webhook", "url": f"http://127.0.0.1:{port}/hook", **fields}


async def run(stack: Stack, steps: list[dict[str, Any]], **contact: Any) -> tuple[str, dict[str, Any]]:
    """Enroll a new contact; its id and its enrollment once ended."""
    contact_id = await stack.contact(**contact)
    enrollment = await stack.enroll(await stack.automation(steps), contact_id)
    return contact_id, await stack.until(enrollment, lambda s: s["status"] != "running")


def entry(state: dict[str, Any], step_id: str) -> dict[str, Any]:
    [found] = [h for h in state["history"] if h["step_id"] == step_id]
    return found


def verified(request: Received) -> Any:
    """The body, as a receiver using the spec's reference library accepts it."""
    return Verifier(SECRET).verify(request.body, request.headers)


# ---- through the enrollment ------------------------------------------------


@pytest.mark.workflow
async def test_a_webhook_sends_the_contacts_fields_signed_and_saves_values_of_the_answer(
    stack: Stack, receiver: Receiver
) -> None:
    notes = "n" * 2000
    receiver.answers = [ok({"data": {"id": "crm-42", "scores": [3, 7], "tier": None, "notes": notes}})]
    step = hook(
        "crm",
        receiver.port,
        url=f"http://127.0.0.1:{receiver.port}/contacts/{{{{ contact.id }}}}?plan={{{{ contact.plan | urlencode }}}}",
        method="put",
        headers={"X-Source": "goalflow for {{ contact.first_name }}", "Authorization": "Bearer t0ken"},
        body={
            "email": "{{ contact.email }}",
            "name": '{{ contact.first_name }} "the" first',
            "tags": ["{{ contact.plan }}", 1, True, None],
        },
        timeout="PT10S",
        save={
            "crm_id": "$.data.id",
            "score": "$.data.scores[-1]",
            "tier": "$.data.tier",
            "owner": "$.data.owner",
            "notes": "$.data.notes",
        },
    )
    contact, state = await run(
        stack, [step, {"id": "later", "type": "add_tag", "tag": "synced"}], attributes={"plan": "pro & co"}
    )
    [request] = receiver.requests
    assert (request.method, request.path) == ("PUT", f"/contacts/{contact}?plan=pro%20%26%20co")
    assert request.headers["host"] == f"127.0.0.1:{receiver.port}"
    assert request.headers["x-source"] == "goalflow for Ada"
    assert request.headers["authorization"] == "Bearer t0ken"
    assert request.headers["content-type"] == "application/json"
    # Merge fields go in as strings, quotes and all; the rest of the JSON as it was written.
    assert verified(request) == {
        "email": "ada@example.com",
        "name": 'Ada "the" first',
        "tags": ["pro & co", 1, True, None],
    }
    crm = entry(state, "crm")
    assert crm["outcome"] == "done"
    assert crm["detail"] == {
        "status": 200,
        "webhook_id": request.headers["webhook-id"],
        # A long value is saved whole, and shown in the history by its size.
        "saved": {"crm_id": "crm-42", "score": 7, "tier": None, "notes": "(2,002 bytes of JSON)"},
        "missing": ["owner"],
    }
    assert entry(state, "later")["outcome"] == "done" and state["status"] == "completed"
    attributes = (await stack.get(f"/contacts/{contact}"))["attributes"]
    assert (attributes["crm_id"], attributes["score"], attributes.get("tier")) == ("crm-42", 7, None)
    assert attributes["notes"] == notes
    assert "owner" not in attributes


@pytest.mark.workflow
async def test_two_503s_are_retried_and_the_third_attempt_carries_the_same_webhook_id(
    stack: Stack, receiver: Receiver
) -> None:
    unavailable = (503, {}, b"try later")
    receiver.answers = [unavailable, unavailable, ok({"id": 1})]
    _, state = await run(stack, [hook("crm", receiver.port, body={"a": 1}, max_attempts=3)])
    assert entry(state, "crm")["outcome"] == "done"
    assert len(receiver.requests) == 3
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 1
    # Each attempt is signed anew, and verifies.
    assert all(verified(r) == {"a": 1} for r in receiver.requests)
    assert entry(state, "crm")["detail"]["webhook_id"] == receiver.requests[0].headers["webhook-id"]


@pytest.mark.workflow
async def test_5xx_until_the_last_attempt_fails_the_step_saying_how_often_it_tried(
    stack: Stack, receiver: Receiver
) -> None:
    receiver.answers = [(500, {}, b"boom")]
    _, state = await run(stack, [hook("crm", receiver.port, max_attempts=2)])
    crm = entry(state, "crm")
    assert (crm["outcome"], crm["detail"]) == (
        "failed",
        {"error": "the server answered 500", "status": 500, "body": "boom", "attempts": 2},
    )
    assert len(receiver.requests) == 2 and state["status"] == "completed"


@pytest.mark.workflow
async def test_a_4xx_fails_the_step_at_once_with_its_status_and_the_start_of_its_body(
    stack: Stack, receiver: Receiver
) -> None:
    long = json.dumps({"error": "unknown field 'nmae'", "pad": "x" * 2000}).encode()
    receiver.answers = [(422, {"Content-Type": "application/json"}, long)]
    steps = [hook("crm", receiver.port, max_attempts=5), {"id": "after", "type": "add_tag", "tag": "t"}]
    _, state = await run(stack, steps)
    crm = entry(state, "crm")
    assert crm["outcome"] == "failed"
    assert crm["detail"]["error"] == "the server answered 422" and crm["detail"]["status"] == 422
    assert crm["detail"]["body"] == long[:500].decode()
    assert "attempts" not in crm["detail"]
    # Not retried, and the contact goes on.
    assert len(receiver.requests) == 1
    assert entry(state, "after")["outcome"] == "done" and state["status"] == "completed"


@pytest.mark.workflow
async def test_a_timeout_is_retried(stack: Stack, receiver: Receiver) -> None:
    receiver.answers = [None, ok()]
    _, state = await run(stack, [hook("crm", receiver.port, timeout="PT1S", max_attempts=2)])
    assert entry(state, "crm")["outcome"] == "done"
    assert len(receiver.requests) == 2


@pytest.mark.workflow
async def test_a_refused_connection_is_retried_then_fails_the_step(stack: Stack, allow: Allow) -> None:
    closed, server = await serve("127.0.0.1", [ok()])
    async with server:
        pass  # Nothing listens there any more: each attempt's connection is refused.
    allow(f"127.0.0.1:{closed.port}")
    _, state = await run(stack, [hook("crm", closed.port, max_attempts=2)])
    crm = entry(state, "crm")
    assert crm["outcome"] == "failed" and crm["detail"]["attempts"] == 2
    assert crm["detail"]["error"].startswith(f"ConnectError from 127.0.0.1:{closed.port}: ")


@pytest.mark.workflow
async def test_targets_outside_the_allowlist_get_no_connection_at_all(
    stack: Stack, receiver: Receiver
) -> None:
    """Another port of the allowed address, and the allowed port of another
    loopback address: both refused before connecting, and not retried."""
    other_port, other_server = await serve("127.0.0.1", [ok()])
    other_address, other_address_server = await serve("127.0.0.2", [ok()], port=receiver.port)
    steps = [
        hook("port", 0, url=f"http://127.0.0.1:{other_port.port}/", max_attempts=5),
        hook("address", 0, url=f"http://127.0.0.2:{receiver.port}/", max_attempts=5),
        hook("mapped", 0, url=f"http://[::ffff:127.0.0.1]:{other_port.port}/", max_attempts=5),
        hook("allowed", receiver.port),
    ]
    async with other_server, other_address_server:
        _, state = await run(stack, steps)
    assert other_port.connections == 0 and other_address.connections == 0
    assert entry(state, "port")["detail"] == {
        "error": f"refused to call 127.0.0.1:{other_port.port}: 127.0.0.1 is a loopback address "
        f"(127.0.0.0/8); list 127.0.0.1:{other_port.port} in GOALFLOW_WEBHOOK_ALLOWED_HOSTS to allow it"
    }
    assert "127.0.0.2 is a loopback address (127.0.0.0/8)" in entry(state, "address")["detail"]["error"]
    assert "an IPv4-mapped IPv6 address" in entry(state, "mapped")["detail"]["error"]
    assert [entry(state, s)["outcome"] for s in ("port", "address", "mapped", "allowed")] == [
        "failed",
        "failed",
        "failed",
        "done",
    ]
    assert len(receiver.requests) == 1


@pytest.mark.workflow
async def test_a_redirect_is_checked_like_the_first_hop(stack: Stack, receiver: Receiver) -> None:
    elsewhere, elsewhere_server = await serve("127.0.0.1", [ok()])
    to = f"http://127.0.0.1:{receiver.port}"
    receiver.answers = [
        # Followed: the allowed server itself, the method and the body kept (307).
        (307, {"Location": "/moved"}, b""),
        ok({"id": "x"}),
        # Refused: another port of loopback.
        (302, {"Location": f"http://127.0.0.1:{elsewhere.port}/steal"}, b""),
    ]
    steps = [
        hook("moved", receiver.port, body={"n": 1}, save={"moved_id": "$.id"}),
        hook("stolen", receiver.port, url=f"{to}/again", max_attempts=3),
    ]
    async with elsewhere_server:
        _, state = await run(stack, steps)
    assert elsewhere.connections == 0
    assert [(r.method, r.path) for r in receiver.requests] == [
        ("POST", "/hook"),
        ("POST", "/moved"),
        ("POST", "/again"),
    ]
    assert verified(receiver.requests[1]) == {"n": 1}
    assert entry(state, "moved")["detail"]["saved"] == {"moved_id": "x"}
    stolen = entry(state, "stolen")
    assert stolen["outcome"] == "failed"
    assert stolen["detail"]["error"].startswith(f"refused to call 127.0.0.1:{elsewhere.port}: ")


@pytest.mark.workflow
async def test_a_missing_merge_field_skips_and_no_secret_fails(
    stack: Stack, receiver: Receiver, allow: Allow
) -> None:
    _, state = await run(stack, [hook("crm", receiver.port, body={"c": "{{ contact.company }}"})])
    assert entry(state, "crm")["outcome"] == "skipped"
    assert entry(state, "crm")["detail"] == {"reason": "missing merge field contact.company"}
    allow(f"127.0.0.1:{receiver.port}", secret=None)
    _, state = await run(stack, [hook("crm", receiver.port)])
    assert entry(state, "crm")["outcome"] == "failed"
    assert "GOALFLOW_WEBHOOK_SECRET" in entry(state, "crm")["detail"]["error"]
    assert receiver.requests == []


@pytest.mark.workflow
async def test_a_retried_activity_calls_once_per_step_run(stack: Stack, receiver: Receiver) -> None:
    """The outcome is stored under the step run's key: the same run asked again
    (a worker that died before Temporal heard the answer) calls nothing."""
    receiver.answers = [ok({"v": 1}), ok({"v": 2})]
    automation = await stack.automation([hook("crm", receiver.port, save={"v": "$.v"})])
    contact = await stack.contact()
    version = (await stack.get(f"/automations/{automation}"))["version"]
    step = WebhookInput(
        key="manual/crm/1", enrollment_id="manual", contact_id=contact, automation_id=automation,
        version=version, step_id="crm", digest=None, method="POST", timeout_seconds=10, save={"v": "$.v"},
    )  # fmt: skip
    activities = WebhookActivities(
        Deps(stack.engine, EventBus(stack.engine, stack.client), Outbox(stack.engine))
    )
    first = await ActivityEnvironment().run(activities.call_webhook, step)
    again = await ActivityEnvironment().run(activities.call_webhook, step)
    assert first == again and first.saved == {"v": 1}
    assert len(receiver.requests) == 1
    assert (await stack.get(f"/contacts/{contact}"))["attributes"]["v"] == 1


@pytest.mark.workflow
async def test_a_bad_webhook_step_is_a_422_naming_the_field(stack: Stack) -> None:
    step = {"id": "crm", "type": "webhook", "url": "http://h/", "save": {"x": "data.id"}}
    answer = await stack.post("/automations", {"name": "n", "steps": [step]}, expect=422)
    [problem] = answer["detail"]
    assert problem["loc"][:4] == ["body", "steps", 0, "save"]
    assert "a path starts with $" in problem["msg"]


@pytest.mark.workflow
async def test_the_call_goes_to_the_address_that_was_checked_under_the_urls_name(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: a name that resolves to the allowed address when checked,
    and to another one on any later lookup. The call connects to the address
    it checked (no second lookup) and still names the host in `Host`."""
    rebound, rebound_server = await serve("127.0.0.2", [ok()], port=receiver.port)
    loop = asyncio.get_running_loop()
    real, lookups = loop.getaddrinfo, []

    async def rebinding(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != "rebinding.test":
            return await real(host, port, *args, **kwargs)
        lookups.append(host)
        address = "127.0.0.1" if len(lookups) == 1 else "127.0.0.2"
        return await real(address, port, *args, **kwargs)

    monkeypatch.setattr(loop, "getaddrinfo", rebinding)
    request = Request("POST", f"http://rebinding.test:{receiver.port}/in", {}, b"{}")
    allowed = parse_allowed(f"127.0.0.1:{receiver.port}")
    async with rebound_server:
        answer = await call(request, allowed, 10, lambda body: {})
    assert answer.status == 200 and lookups == ["rebinding.test"]
    assert rebound.connections == 0
    [received] = receiver.requests
    assert received.headers["host"] == f"rebinding.test:{receiver.port}"


# ---- pure parts ---------------------------------------------------------------


REFUSED = [
    ("0.0.0.0", "unspecified"),
    ("0.1.2.3", "unspecified"),
    ("10.0.0.1", "private"),
    ("10.255.255.255", "private"),
    ("100.64.0.1", "carrier-grade NAT"),
    ("100.127.255.254", "carrier-grade NAT"),
    ("127.0.0.1", "loopback"),
    ("127.255.255.254", "loopback"),
    ("169.254.169.254", "link-local"),
    ("172.16.0.1", "private"),
    ("172.31.255.254", "private"),
    ("192.168.1.1", "private"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "reserved"),
    ("192.0.2.1", "documentation"),
    ("198.18.0.1", "reserved"),
    ("::", "unspecified"),
    ("::1", "loopback"),
    ("fe80::1", "link-local"),
    ("fc00::1", "private"),
    ("fd12:3456::1", "private"),
    ("ff02::1", "multicast"),
    ("::7f00:1", "reserved"),
    ("2001:db8::1", "documentation"),
    ("2001::1", "Teredo"),
    ("::ffff:127.0.0.1", "loopback"),
    ("::ffff:10.1.2.3", "private"),
    ("::ffff:172.16.0.1", "private"),
    ("::ffff:192.168.0.1", "private"),
    ("::ffff:169.254.169.254", "link-local"),
    ("::ffff:224.0.0.1", "multicast"),
    ("::ffff:0.0.0.0", "unspecified"),
    ("::ffff:100.64.0.1", "carrier-grade NAT"),
    ("64:ff9b::7f00:1", "loopback"),
    ("2002:a00:1::", "private"),
]
ALLOWED = ["8.8.8.8", "1.1.1.1", "100.63.255.255", "100.128.0.0", "172.15.255.255", "172.32.0.0",
           "11.0.0.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::"]  # fmt: skip


@pytest.mark.unit
@pytest.mark.parametrize(("address", "kind"), REFUSED)
def test_the_classifier_refuses_every_range_and_says_which(address: str, kind: str) -> None:
    why = refusal(ip_address(address))
    assert why is not None and why.startswith(f"a {kind} address (")
    if address.startswith("::ffff:"):
        assert why.endswith(", as an IPv4-mapped IPv6 address")


@pytest.mark.unit
@pytest.mark.parametrize("address", ALLOWED)
def test_the_classifier_lets_public_addresses_through(address: str) -> None:
    assert refusal(ip_address(address)) is None


@pytest.mark.unit
def test_the_allowlist_names_a_host_or_an_address_with_its_port() -> None:
    allowed = parse_allowed(" 127.0.0.1:8080, [::1]:9090,CRM.internal.:443 ")
    assert allowed == {("127.0.0.1", 8080), ("::1", 9090), ("crm.internal", 443)}
    assert is_allowed(allowed, "127.0.0.1", ip_address("127.0.0.1"), 8080)
    assert is_allowed(allowed, "localhost", ip_address("127.0.0.1"), 8080)  # By its address.
    assert is_allowed(allowed, "::ffff:127.0.0.1", ip_address("::ffff:127.0.0.1"), 8080)
    assert is_allowed(allowed, "crm.internal", ip_address("10.0.0.7"), 443)  # By its name.
    assert not is_allowed(allowed, "127.0.0.1", ip_address("127.0.0.1"), 8081)
    assert not is_allowed(allowed, "127.0.0.2", ip_address("127.0.0.2"), 8080)
    assert not is_allowed(allowed, "crm.internal", ip_address("10.0.0.7"), 80)
    for bad in ("127.0.0.1", "host:", ":80", "host:99999", "::1:80"):
        with pytest.raises(ValueError):
            parse_allowed(bad)


@pytest.mark.unit
def test_paths_read_members_and_elements() -> None:
    answer = {"data": {"items": [{"id": "a"}, {"id": "b"}], "first-name": "Ada"}}
    assert extract(answer, parse_path("$.data.items[1].id")) == (True, "b")
    assert extract(answer, parse_path("$.data.items[-1].id")) == (True, "b")
    assert extract(answer, parse_path("$.data.first-name")) == (True, "Ada")
    assert extract(answer, parse_path("$")) == (True, answer)
    assert extract(answer, parse_path("$.data.items[2]")) == (False, None)
    assert extract(answer, parse_path("$.data.items.id")) == (False, None)
    for bad in ("data.id", "$.", "$..id", "$[x]", "$.a[*]", "$['a']"):
        with pytest.raises(ValueError):
            parse_path(bad)


@pytest.mark.unit
def test_signatures_verify_with_the_reference_library() -> None:
    key = standard_webhooks.decode_secret(SECRET)
    body = json.dumps({"a": "é"}, ensure_ascii=False).encode()
    now = int(time.time())
    headers = standard_webhooks.headers(key, "msg_1", now, body)
    assert headers["webhook-signature"].startswith("v1,")
    assert Verifier(SECRET).verify(body, headers) == {"a": "é"}
    with pytest.raises(ValueError):
        standard_webhooks.decode_secret("not-whsec")
    assert standard_webhooks.message_id("a/b/1") == standard_webhooks.message_id("a/b/1")
    assert standard_webhooks.message_id("a/b/1") != standard_webhooks.message_id("a/b/2")


@pytest.mark.unit
@pytest.mark.parametrize(
    ("fields", "loc", "msg"),
    [
        ({"url": "ftp://h/"}, ["url"], "starts with http:// or https://"),
        ({"headers": {"webhook-id": "x"}}, ["headers", "webhook-id"], "goalflow sets"),
        ({"headers": {"bad name": "x"}}, ["headers", "bad name"], "is not a header name"),
        ({"headers": {"X-A": "{{ x"}}, ["headers", "X-A"], "template error"),
        ({"method": "GET", "body": {"a": 1}}, ["body"], "a GET request has no body"),
        ({"body": {"a": "{% if %}"}}, ["body"], "template error"),
        ({"timeout": "PT5M"}, ["timeout"], "at most 120 seconds"),
        ({"max_attempts": 0}, ["max_attempts"], "greater than or equal to 1"),
        ({"save": {"a": "$.x[y]"}}, ["save", "a"], "unexpected"),
        ({"method": "TRACE"}, ["method"], "Input should be"),
    ],
)
def test_the_definition_checks_name_the_field(fields: dict[str, Any], loc: list[Any], msg: str) -> None:
    step = {"id": "crm", "type": "webhook", "url": "https://crm.example/hook", **fields}
    with pytest.raises(DefinitionError) as raised:
        parse_definition({"name": "n", "steps": [step]})
    [problem] = raised.value.problems
    assert problem.loc == ["steps", 0, *loc]
    assert msg in problem.msg
