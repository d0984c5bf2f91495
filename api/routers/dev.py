"""`GET /dev/mailbox`: the mail `make run`'s SMTP catcher caught, and the SMS and
WhatsApp messages in the outbox (without Twilio settings they go no further), as a page."""

import html
from email.message import EmailMessage

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from api.auth import guarded
from api.deps import ServicesDep
from api.errors import error, html_page
from shared.domain.tracking import bare_urls
from shared.services import mailbox as caught
from shared.services.contacts import MessageView
from shared.settings import settings

router = APIRouter(prefix="/dev", tags=["dev"])

_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>goalflow mailbox</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; background: #f4f4f5; }}
article {{ background: #fff; border-radius: 8px; padding: 1rem 1.5rem; margin-bottom: 1.5rem; }}
dl {{ display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; margin: 0 0 1rem; }}
dt {{ color: #71717a; }} iframe {{ width: 100%; height: 24rem; border: 1px solid #e4e4e7; }}
pre {{ white-space: pre-wrap; }}
</style></head>
<body><h1>Mailbox</h1><p>{count} caught by <code>make run</code>, newest first.</p>
{messages}{texts}</body></html>"""
# Shown once there are any: without Twilio settings SMS and WhatsApp go no further.
_TEXTS = """
<h2>Text messages</h2><p>{count} SMS and WhatsApp in the outbox, newest first.</p>
{messages}"""


@router.get(
    "/mailbox",
    **guarded(
        "admin",
        {**html_page("The caught mail"), **error(404, "This API runs without make run's SMTP catcher")},
    ),
)
async def mailbox(services: ServicesDep) -> HTMLResponse:
    """The mail `make run`'s SMTP catcher caught, then the SMS and WhatsApp
    messages in the outbox, newest first, each with its links clickable. Only
    where `make run` catches the mail."""
    messages = caught.newest_first(settings().mailbox)
    texts = await caught.texts_newest_first(services)
    return HTMLResponse(
        _PAGE.format(
            count=len(messages),
            messages="\n".join(_article(m) for m in messages) or "<p>No mail yet.</p>",
            texts=_TEXTS.format(count=len(texts), messages="\n".join(_text(t) for t in texts))
            if texts
            else "",
        )
    )


def _article(message: EmailMessage) -> str:
    headers = "".join(
        f"<dt>{name}</dt><dd>{html.escape(str(message[name] or ''))}</dd>"
        for name in ("From", "To", "Subject", "Date")
    )
    text = message.get_body(("plain",))
    rich = message.get_body(("html",))
    parts = []
    if rich is not None:
        # Sandboxed: the message's own HTML cannot script this page; links open in a new tab.
        document = '<base target="_blank">' + rich.get_content()  # type: ignore[attr-defined]
        parts.append(
            f'<iframe sandbox="allow-popups allow-popups-to-escape-sandbox" srcdoc="{html.escape(document)}"></iframe>'
        )
    if text is not None:
        parts.append(f"<pre>{_linked(text.get_content())}</pre>")  # type: ignore[attr-defined]
    return f"<article><dl>{headers}</dl>{''.join(parts)}</article>"


def _text(message: MessageView) -> str:
    shown = {
        "Channel": message.channel,
        "From": message.sender or "",
        "To": message.to or "",
        "Date": f"{message.created_at:%Y-%m-%d %H:%M:%S} UTC",
        "Status": message.status,
    } | ({"Template": message.template} if message.template else {})
    headers = "".join(f"<dt>{name}</dt><dd>{html.escape(value)}</dd>" for name, value in shown.items())
    return f'<article class="text"><dl>{headers}</dl><pre>{_linked(message.body)}</pre></article>'


def _linked(text: str) -> str:
    """`text` escaped, its URLs clickable, by the tracker's own rule, so a tracked URL
    is linked whole and nothing after it (a token with a full stop after it is a 404).
    Found in the text as sent, not once escaped: `<https://…>` escaped would put
    `&gt;` in the link."""
    pieces: list[str] = []
    start = 0
    for begin, end in bare_urls(text):
        href = html.escape(text[begin:end])
        pieces += [html.escape(text[start:begin]), f'<a href="{href}" target="_blank">{href}</a>']
        start = end
    return "".join(pieces) + html.escape(text[start:])
