"""Record enrollment histories for the replay test.

    .venv/bin/python -m tests.record_histories [SCENARIO ...]

Runs a few scenarios that together use every step type, a goal move, a
removal, a cancellation, a continue-as-new, sends over SMTP (to a server on
loopback) and a send held by a pause and a bulk enrollment, on the time-skipping server, and a query
during a local activity on the dev server, and writes each finished workflow's
history to tests/histories/. Without names it records only the scenarios that
have no history yet: the old ones are what running enrollments were recorded
with. Record one again only when a change is meant to be incompatible with
running enrollments (and guard it with workflow.patched).
"""

import asyncio
import base64
import os
import sys
import tempfile
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from temporalio.client import Client, WorkflowHandle, WorkflowHistory

from devstack import free_port
from shared.settings import settings
from shared.store.db import make_engine
from tests.builders import NURTURE, email, goal, tag_added, wait
from tests.conftest import Stack, binary, make_stack, time_skipping_server
from tests.test_query_during_local_activity import dev_server, first_task_split, run_burst
from worker.outbox import Sending
from worker.smtp import SmtpServer

HISTORIES = Path(__file__).parent / "histories"


async def nurture_goal_jump(stack: Stack) -> str:
    contact = await stack.contact()
    enrollment = await stack.enroll(await stack.automation(NURTURE), contact)
    await stack.at(enrollment, "pause")
    await stack.post(f"/contacts/{contact}/tags", {"tag": "bought"})
    await stack.until(enrollment, lambda s: s["status"] == "completed")
    return enrollment


async def every_step(stack: Stack) -> str:
    contact = await stack.contact(tags=["vip"], attributes={"score": 3})
    steps = [
        {"id": "score", "type": "update_attribute", "attribute": "score", "op": "increment", "value": 2},
        {"id": "check", "type": "if_else", "condition": {"tag": "vip"}, "then": "hello", "else": "stop"},
        email("hello"),
        {
            "id": "opened",
            "type": "wait_for_event",
            "timeout": "P1D",
            "on_timeout": "tag",
            "criteria": [{"type": "email", "actions": ["opened"]}],
        },
        {"id": "tag", "type": "add_tag", "tag": "engaged"},
        {"id": "untag", "type": "remove_tag", "tag": "vip"},
        goal("passed", tag_added("never"), if_unmet="continue"),
        wait("pause", "PT1H"),
        {"id": "loop", "type": "go_to", "target": "stop"},
        {"id": "stop", "type": "end"},
    ]
    enrollment = await stack.enroll(await stack.automation(steps), contact)
    await stack.at(enrollment, "opened")
    await stack.skip(timedelta(days=2))
    await stack.until(enrollment, lambda s: s["status"] == "completed")
    return enrollment


async def removed_while_waiting(stack: Stack) -> str:
    contact = await stack.contact()
    enrollment = await stack.enroll(await stack.automation([wait("pause", "P10D"), email("never")]), contact)
    await stack.at(enrollment, "pause")
    await stack.event(contact, "custom", name="noise")
    await stack.http.delete(f"/enrollments/{enrollment}")
    return enrollment


async def tag_step_meets_a_goal(stack: Stack) -> str:
    """A tag step's own event, applied in the step's workflow task (`tag-events-applied-here`)."""
    steps = [
        {"id": "tag_self", "type": "add_tag", "tag": "engaged"},
        goal("engaged", tag_added("engaged"), if_unmet="end"),
        email("reward"),
    ]
    enrollment = await stack.enroll(await stack.automation(steps), await stack.contact())
    await stack.until(enrollment, lambda s: s["status"] == "completed")
    return enrollment


async def sends_by_reference(stack: Stack) -> str:
    """A plan whose sends carry their content's digest, not the content."""
    steps = [email("hello"), wait("pause", "PT1H"), email("again")]
    enrollment = await stack.enroll(await stack.automation(steps), await stack.contact())
    await stack.skip(timedelta(hours=2))
    await stack.until(enrollment, lambda s: s["status"] == "completed")
    return enrollment


async def cancelled_in_temporal(stack: Stack) -> str:
    """An operator's "Request Cancellation" (`cancelled-in-temporal`)."""
    enrollment = await stack.enroll(
        await stack.automation([email("hello"), wait("pause")]), await stack.contact()
    )
    await stack.at(enrollment, "pause")
    await stack.client.get_workflow_handle(enrollment).cancel()
    await stack.until(enrollment, lambda s: s["status"] == "removed")
    return enrollment


async def history_saved_before_continuing(stack: Stack) -> WorkflowHandle[Any, Any]:
    """The first run of a long loop: it saves its history, then continues as new
    carrying a bounded state (`bounded-state`)."""
    steps = [wait("pause", "PT1M"), {"id": "again", "type": "go_to", "target": "pause"}]
    enrollment = await stack.enroll(await stack.automation(steps), await stack.contact())
    await stack.skip(timedelta(hours=4))
    await stack.http.delete(f"/enrollments/{enrollment}")
    latest = await stack.client.get_workflow_handle(enrollment).fetch_history()
    first_run = latest.events[0].workflow_execution_started_event_attributes.continued_execution_run_id
    return stack.client.get_workflow_handle(enrollment, run_id=first_run)


async def sends_over_the_network(stack: Stack) -> str:
    """Sends as regular activities (`sends-over-the-network`): one goes out, one
    is retried until a goal pull abandons it."""
    steps = [email("hello"), email("retried"), goal("bought", tag_added("bought"))]
    contact = await stack.contact(email=f"{GREYLISTED}@example.test")
    enrollment = await stack.enroll(await stack.automation(steps), contact)
    await stack.until(enrollment, lambda s: [m["step_id"] for m in s["messages"]] == ["hello"])
    await asyncio.sleep(2)  # A few refused attempts of `retried`.
    await stack.post(f"/contacts/{contact}/tags", {"tag": "bought"})
    await stack.until(enrollment, lambda s: s["status"] == "completed")
    return enrollment


async def queried_during_first_local_activity(client: Client) -> WorkflowHistory:
    """A state query that came with an enrollment's first workflow task while
    `register_enrollment` ran: the task was reported with the activity's marker,
    and the workflow got the result in the next task (`patches-decided-at-start`).
    On the dev server, with fake activities (tests/test_query_during_local_activity.py):
    through the API on the time-skipping server, the query comes too late."""
    for _ in range(3):
        burst = await run_burst(client)
        for history in burst.histories["sends-over-the-network"]:
            if first_task_split(history):
                return history
    raise AssertionError("no first task was split")


async def held_by_a_pause(stack: Stack) -> str:
    """A send held while its automation is paused, then released by the resume signal."""
    steps = [goal("go", tag_added("go"), if_unmet="wait"), email("offer")]
    automation = await stack.automation(steps)
    contact = await stack.contact()
    enrollment = await stack.enroll(automation, contact)
    await stack.at(enrollment, "go")
    await stack.post(f"/automations/{automation}/pause")
    await stack.post(f"/contacts/{contact}/tags", {"tag": "go"})
    await stack.until(enrollment, lambda s: s["history"][-1]["outcome"] == "held")
    await stack.post(f"/automations/{automation}/resume", {"stale_after": "P1D"})
    await stack.until(enrollment, lambda s: s["status"] == "completed")
    return enrollment


async def triggered_branch_on_lists_and_events(stack: Stack) -> str:
    """Started by a trigger (`entered_by`, its event seen from the start: G15),
    branching on a list and on the contact's event history (`load_contact_facts`)."""
    await stack.post("/lists", {"id": "news", "name": "News"})
    steps = [
        {
            "id": "check",
            "type": "if_else",
            "condition": {
                "all": [{"list": "news"}, {"event": "signup", "count": {"gte": 1}, "within": "P1D"}]
            },
            "then": "hello",
            "else": "stop",
        },
        email("hello"),
        goal("again", {"type": "custom", "name": "signup"}, if_unmet="end"),
        {"id": "stop", "type": "end"},
    ]
    automation = await stack.automation(steps, triggers=[{"type": "event", "name": "signup"}])
    contact = await stack.contact()
    await stack.post("/lists/news/members", {"contact_id": contact})
    await stack.event(contact, "custom", name="signup")
    (enrollment,) = [e["enrollment_id"] for e in await stack.get(f"/contacts/{contact}/enrollments")]
    assert enrollment.startswith(automation)
    await stack.until(enrollment, lambda s: s["status"] == "completed")
    return enrollment


async def bulk_paged_paused_and_resumed(stack: Stack) -> str:
    """A bulk enrollment at a rate (pages of two and the sleeps between them),
    paused, woken by its resume, and completed."""
    automation = await stack.automation([{"id": "done", "type": "add_tag", "tag": "was-here"}])
    contacts = [await stack.contact() for _ in range(5)]
    body = {"contact_ids": contacts, "rate": 2}
    bulk_id = (await stack.post(f"/automations/{automation}/bulk-enrollments", body))["bulk_id"]
    await stack.post(f"/bulk-enrollments/{bulk_id}/pause")
    await stack.skip(timedelta(minutes=2))
    await stack.post(f"/bulk-enrollments/{bulk_id}/resume")
    await stack.client.get_workflow_handle(bulk_id).result()
    return str(bulk_id)


async def sequence_entered_then_replied(stack: Stack) -> str:
    """A sequence (its plan's kind, its sender) entered by another automation's
    `enroll_in_sequence`, ended by the contact's reply to its email."""
    await stack.post("/senders", {"email": "rep@acme.test", "daily_limit": 10})
    steps = [email("intro"), wait("pause", "P3D"), email("bump")]
    sequence = await stack.automation(steps, kind="sequence", sender="rep@acme.test")
    starter = await stack.automation([{"id": "join", "type": "enroll_in_sequence", "sequence": sequence}])
    contact = await stack.contact()
    first = await stack.enroll(starter, contact)
    state = await stack.until(first, lambda s: s["status"] == "completed")
    enrollment = state["history"][0]["detail"]["enrollment_id"]
    message = (await stack.at(enrollment, "pause"))["messages"][0]["message_id"]
    await stack.event(contact, "email.replied", message_id=message)
    await stack.until(enrollment, lambda s: s["status"] == "completed")
    return str(enrollment)


async def started_and_removed_another(stack: Stack) -> str:
    """An enrollment another automation's `start_automation` started and its
    `remove_from_automation` removed: the `remove` update carrying its reason."""
    nurture = await stack.automation([wait("pause", "P30D")])
    starter = await stack.automation(
        [
            {"id": "start", "type": "start_automation", "automation": nurture},
            {"id": "stop", "type": "remove_from_automation", "automation": nurture},
        ]
    )
    contact = await stack.contact()
    first = await stack.enroll(starter, contact)
    state = await stack.until(first, lambda s: s["status"] == "completed")
    removed = state["history"][0]["detail"]["enrollment_id"]
    await stack.until(removed, lambda s: s["status"] == "removed")
    return str(removed)


async def webhook_calls(stack: Stack) -> str:
    """Webhook steps: one retried after a 503 that saves an attribute from its
    answer, one failed by a 4xx, one refused by the guard (a loopback port not
    allowed), against a server on loopback."""
    answers = iter([b"503 Service Unavailable", b'200 OK\r\n\r\n{"id": "crm-1"}', b"404 Not Found"])

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            (int(h.split(b":")[1]) for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")), 0
        )
        await reader.readexactly(length)
        status, _, body = next(answers).partition(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (status, len(body), body)
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    os.environ["GOALFLOW_WEBHOOK_SECRET"] = (
        "whsec_" + base64.b64encode(b"record-histories-webhook-key!!!!").decode()
    )
    os.environ["GOALFLOW_WEBHOOK_ALLOWED_HOSTS"] = f"127.0.0.1:{port}"
    settings.cache_clear()
    url = f"http://127.0.0.1:{port}/hook"
    steps = [
        {
            "id": "saved",
            "type": "webhook",
            "url": url,
            "body": {"email": "{{ contact.email }}"},
            "save": {"crm_id": "$.id"},
        },
        {"id": "rejected", "type": "webhook", "url": url, "max_attempts": 3},
        {"id": "refused", "type": "webhook", "url": f"http://127.0.0.1:{port + 1}/", "max_attempts": 3},
    ]
    async with server:
        contact = await stack.contact()
        enrollment = await stack.enroll(await stack.automation(steps), contact)
        await stack.until(enrollment, lambda s: s["status"] == "completed")
    return enrollment


class Greylist:
    """An SMTP server's handler: takes every message but the second to GREYLISTED."""

    def __init__(self) -> None:
        self.seen: dict[str, int] = {}

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        to = envelope.rcpt_tos[0]
        self.seen[to] = self.seen.get(to, 0) + 1
        return "451 4.7.1 greylisted" if to.startswith(GREYLISTED) and self.seen[to] > 1 else "250 OK"


GREYLISTED = "greylisted"
SCENARIOS = (
    nurture_goal_jump,
    every_step,
    removed_while_waiting,
    tag_step_meets_a_goal,
    sends_by_reference,
    cancelled_in_temporal,
    history_saved_before_continuing,
    sends_over_the_network,
    held_by_a_pause,
    triggered_branch_on_lists_and_events,
    bulk_paged_paused_and_resumed,
    sequence_entered_then_replied,
    started_and_removed_another,
    webhook_calls,
)
# Recorded on the dev server, with fake activities.
ON_THE_DEV_SERVER = (queried_during_first_local_activity,)


async def main() -> None:
    HISTORIES.mkdir(exist_ok=True)
    named = sys.argv[1:]
    chosen = [s for s in SCENARIOS if s.__name__ in named or not (named or path_of(s).exists())]
    if chosen:
        await on_the_time_skipping_server(chosen)
    on_dev = [s for s in ON_THE_DEV_SERVER if s.__name__ in named or not (named or path_of(s).exists())]
    if on_dev:
        async with dev_server() as env:
            for dev_scenario in on_dev:
                history = await dev_scenario(env.client)
                path = path_of(dev_scenario)
                path.write_text(history.to_json())
                print(f"{path}: {len(history.events)} events")


async def on_the_time_skipping_server(chosen: list[Callable[[Stack], Awaitable[Any]]]) -> None:
    smtp = Controller(Greylist(), hostname="127.0.0.1", port=free_port())
    smtp.start()
    sending = Sending(smtp=SmtpServer("127.0.0.1", smtp.port, tls="none"))
    async with time_skipping_server(binary("temporal-test-server")) as env:  # type: ignore[arg-type]
        with tempfile.TemporaryDirectory() as tmp:
            engine = make_engine(f"sqlite:///{tmp}/record.db")
            async with make_stack(env.client, engine, env, sending=sending) as stack:
                for scenario in chosen:
                    recorded = await scenario(stack)
                    if isinstance(recorded, str):
                        recorded = env.client.get_workflow_handle(recorded)
                    history = await recorded.fetch_history()
                    path = path_of(scenario)
                    path.write_text(history.to_json())
                    print(f"{path}: {len(history.events)} events")
    smtp.stop()


def path_of(scenario: Callable[..., Awaitable[Any]]) -> Path:
    return HISTORIES / f"{scenario.__name__}.json"


if __name__ == "__main__":
    asyncio.run(main())
