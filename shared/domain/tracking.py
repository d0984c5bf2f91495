"""Tracked messages: every link goes through `GET /t/c/{token}`, an invisible
image through `GET /t/o/{token}`, and the unsubscribe URL is `/t/u/{token}`.
Tokens are signed (`shared.domain.tokens`), so a tracking URL cannot be made
to point anywhere else."""

import html
import re
from dataclasses import dataclass

from shared.domain.tokens import sign

_HREF = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(.*?)\2""", re.IGNORECASE | re.DOTALL)
_BARE_URL = re.compile(r"https?://[^\s<>\"')\]]+")
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)


@dataclass(frozen=True)
class Tracker:
    public_url: str
    key: bytes

    def _url(self, kind: str, claims: dict[str, str]) -> str:
        return f"{self.public_url}/t/{kind}/{sign(self.key, kind, claims)}"

    def open_url(self, message_id: str, contact_id: str) -> str:
        return self._url("o", {"m": message_id, "c": contact_id})

    def click_url(self, message_id: str, contact_id: str, url: str) -> str:
        return self._url("c", {"m": message_id, "c": contact_id, "u": url})

    def link_url(self, contact_id: str, link_id: str, message_id: str | None = None) -> str:
        """A trigger link for this contact; the link's own URL is looked up at the click."""
        claims = {"c": contact_id, "l": link_id} | ({"m": message_id} if message_id else {})
        return self._url("c", claims)

    def unsubscribe_url(self, message_id: str, contact_id: str) -> str:
        return self._url("u", {"m": message_id, "c": contact_id})

    def _tracked(self, url: str) -> bool:
        return url.startswith(f"{self.public_url}/t/")

    def text(self, body: str, message_id: str, contact_id: str) -> str:
        """Every bare URL in a text part, rewritten to its tracked click URL."""
        pieces, start = [], 0
        for begin, end in bare_urls(body):
            url = body[begin:end]
            pieces += [
                body[start:begin],
                url if self._tracked(url) else self.click_url(message_id, contact_id, url),
            ]
            start = end
        return "".join(pieces) + body[start:]

    def html(self, document: str, message_id: str, contact_id: str) -> str:
        """Every web link in an HTML part rewritten, and the open image added."""

        def track(match: re.Match[str]) -> str:
            start, quote, href = match.groups()
            url = html.unescape(href)
            if not url.lower().startswith(("http://", "https://")) or self._tracked(url):
                return match.group(0)
            return f"{start}{quote}{html.escape(self.click_url(message_id, contact_id, url))}{quote}"

        tracked = _HREF.sub(track, document)
        pixel = (
            f'<img src="{html.escape(self.open_url(message_id, contact_id))}" width="1" height="1" alt="">'
        )
        if _BODY_END.search(tracked):
            return _BODY_END.sub(lambda m: pixel + m.group(0), tracked, count=1)
        return tracked + pixel


def bare_urls(text: str) -> list[tuple[int, int]]:
    """Where each bare web URL of a text part begins and ends. A URL stops before
    `<>"')]` and leaves out the punctuation ending a sentence after it."""
    spans = []
    for match in _BARE_URL.finditer(text):
        url = match.group(0).rstrip(".,;:!?")
        spans.append((match.start(), match.start() + len(url)))
    return spans
