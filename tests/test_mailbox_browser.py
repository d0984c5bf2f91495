"""`GET /dev/mailbox` in a real browser: an email goes out over SMTP to the
catcher `make run` uses, the page shows it, and a click on its trigger link in
Chromium lands on the link's page and pulls the contact to the goal.

Chromium is Debian's (`make test` installs it): Playwright's own browser
download does not work here. Without it the test fails, never skips."""

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import pytest_asyncio
import uvicorn
from aiohttp import web
from aiosmtpd.controller import Controller
from playwright.async_api import Browser, Locator, Page, async_playwright
from sqlalchemy.engine import Engine
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from devstack import free_port
from shared.settings import settings
from shared.store.mailbox import CatchingHandler, Mailbox
from tests.builders import email, goal
from tests.conftest import Stack, make_stack
from tests.test_tracking import events, read_long_ago
from worker.outbox import Sending
from worker.smtp import SmtpServer

pytestmark = pytest.mark.workflow

CHROMIUM = Path("/usr/bin/chromium")
# Generous for a loaded CI machine; a pass takes a fraction of it.
WITHIN_MS = 15_000


@pytest.fixture(scope="module")
def chromium() -> str:
    """Debian's chromium, or a failure that says how to get it: a skip would hide a missing install."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} not found: this test drives Debian's chromium (apt-get install chromium; "
            "`make test` installs it). Playwright's own browser download does not work here."
        )
    return str(CHROMIUM)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def browser(chromium: str) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium)
        try:
            yield launched
        finally:
            await launched.close()


@dataclass
class Site:
    """A web site on loopback that the email links to: it records each path asked for."""

    url: str
    paths: list[str] = field(default_factory=list)


@pytest_asyncio.fixture
async def site() -> AsyncIterator[Site]:
    port = free_port()
    visited = Site(f"http://127.0.0.1:{port}")

    async def page(request: web.Request) -> web.Response:
        visited.paths.append(request.path)
        title = request.path.strip("/").title()
        return web.Response(text=f"<title>{title}</title><h1>{title}</h1>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/{any:.*}", page)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield visited
    finally:
        await runner.cleanup()


@contextlib.contextmanager
def environment(**variables: str) -> Iterator[None]:
    """Settings from these variables for the test's length: settings are read once per process."""
    before = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    settings.cache_clear()
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        settings.cache_clear()


@contextlib.asynccontextmanager
async def serving(stack: Stack, port: int) -> AsyncIterator[str]:
    """The API app under uvicorn on loopback, beside the stack's worker: what a browser talks to."""
    app = create_app(engine=stack.engine, client=stack.client, task_queue=stack.task_queue, auth=False)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    deadline = asyncio.get_running_loop().time() + 15
    while not server.started:
        if task.done():
            raise RuntimeError(f"uvicorn exited while starting: {task.exception()!r}")
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("uvicorn did not start within 15 s")
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@dataclass
class Served:
    stack: Stack
    api_url: str


@pytest_asyncio.fixture
async def served(time_env: WorkflowEnvironment, engine: Engine, tmp_path: Path) -> AsyncIterator[Served]:
    """`make run`'s mail path: the worker sends over SMTP to the catcher, whose
    mail `GET /dev/mailbox` shows, and tracking URLs point at the API served here."""
    api_port, smtp_port = free_port(), free_port()
    mailbox = tmp_path / "mailbox"
    catcher = Controller(CatchingHandler(Mailbox(mailbox)), hostname="127.0.0.1", port=smtp_port)
    catcher.start()
    sending = Sending(smtp=SmtpServer("127.0.0.1", smtp_port, tls="none"), default_sender="news@acme.test")
    try:
        with environment(GOALFLOW_PUBLIC_URL=f"http://127.0.0.1:{api_port}", GOALFLOW_MAILBOX=str(mailbox)):
            async with (
                make_stack(time_env.client, engine, time_env, sending=sending) as stack,
                serving(stack, api_port) as api_url,
            ):
                yield Served(stack, api_url)
    finally:
        catcher.stop()


async def subjects(page: Page) -> list[str]:
    """The subjects of the messages on the page, top to bottom."""
    return await page.locator("article").evaluate_all(
        """articles => articles.map(a => [...a.querySelectorAll("dt")]
             .find(dt => dt.textContent === "Subject").nextElementSibling.textContent)"""
    )


async def follow(link: Locator) -> Page:
    """Click a link that opens a new tab, and that tab once its page has loaded."""
    async with link.page.context.expect_page(timeout=WITHIN_MS) as opening:
        await link.click(timeout=WITHIN_MS)
    tab = await opening.value
    await tab.wait_for_load_state(timeout=WITHIN_MS)
    return tab


async def test_a_click_on_a_trigger_link_in_the_mailbox_page_lands_on_its_page_and_meets_the_goal(
    served: Served, site: Site, browser: Browser
) -> None:
    stack = served.stack
    await stack.post(
        "/links", {"id": "lnk_demo", "name": "Book a demo", "url": f"{site.url}/demo"}, expect=201
    )
    contact = await stack.contact(email="ada@example.test")
    html = (
        f'<p>See <a href="{site.url}/pricing">our prices</a>, then '
        """<a href="{{ trigger_link('lnk_demo') }}">Book a demo</a></p>"""
    )
    steps = [
        {
            **email("welcome", subject="Welcome, {{ contact.first_name }}"),
            "body": f"Glad you are here. Our prices are at {site.url}/pricing.",
        },
        {**email("invite", subject="A demo?"), "body": "Book: {{ trigger_link('lnk_demo') }}", "html": html},
        {"id": "pause", "type": "wait", "duration": "P7D"},
        goal("booked", {"type": "link.clicked", "links": ["lnk_demo"]}),
    ]
    enrollment = await stack.enroll(await stack.automation(steps), contact)
    state = await stack.at(enrollment, "pause")
    welcome, invite = (m["message_id"] for m in state["messages"])
    # Read minutes after delivery: a hit within 5 s of sending is taken for a scanner's (G14).
    read_long_ago(stack.engine)

    context = await browser.new_context()
    try:
        page = await context.new_page()
        opened = await page.goto(f"{served.api_url}/dev/mailbox")
        assert opened is not None and opened.status == 200
        assert await page.locator("body > p").first.inner_text() == "2 caught by make run, newest first."
        assert await subjects(page) == ["A demo?", "Welcome, Ada"]

        # A plain-text message: its URLs are links, up to the sentence's full stop.
        text = page.locator("article").nth(1).locator("pre")
        tracked = await text.locator("a").get_attribute("href")
        assert tracked is not None and tracked.startswith(f"{served.api_url}/t/c/")
        assert await text.inner_text() == f"Glad you are here. Our prices are at {tracked}.\n"
        prices = await follow(text.get_by_role("link"))
        assert (prices.url, await prices.title()) == (f"{site.url}/pricing", "Pricing")

        # An HTML message is in a sandboxed iframe; its links are tracked and open a new tab.
        message = page.locator("article").first.frame_locator("iframe")
        ordinary = await message.get_by_role("link", name="our prices").get_attribute("href")
        assert ordinary is not None and ordinary.startswith(f"{served.api_url}/t/c/")
        demo = await follow(message.get_by_role("link", name="Book a demo"))
        assert (demo.url, await demo.title()) == (f"{site.url}/demo", "Demo")
    finally:
        await context.close()

    assert [p for p in site.paths if p != "/favicon.ico"] == ["/pricing", "/demo"]
    state = await stack.until(enrollment, lambda s: s["status"] == "completed")
    assert state["goals_met"] == ["booked"]
    assert [(h["step_id"], h["outcome"]) for h in state["history"]] == [
        ("welcome", "done"),
        ("invite", "done"),
        ("pause", "waiting"),
        ("booked", "goal_met"),
        ("booked", "done"),
        ("end", "ended"),
    ]
    met = state["history"][3]["detail"]
    assert (met["from_step"], met["moved"]) == ("pause", True)
    assert met["event_id"].startswith("link_clicked_")  # The click, not an open or a plain link's click.
    # The page showing the message loaded its pixel: an open, as the reader's own.
    assert events(stack.engine, contact) == [
        ("email.opened", {"message_id": invite, "automated": False}),
        ("email.clicked", {"message_id": welcome, "url": f"{site.url}/pricing", "automated": False}),
        ("link.clicked", {"link_id": "lnk_demo", "automated": False, "message_id": invite}),
        ("email.clicked", {"message_id": invite, "url": f"{site.url}/demo", "automated": False}),
    ]
