"""Signed tracking URLs and the rewriting of a message's links: pure."""

import re

import pytest

from shared.domain.tokens import sign, verify
from shared.domain.tracking import Tracker

pytestmark = pytest.mark.unit

KEY = b"k" * 32
tracker = Tracker("https://t.example.test", KEY)


def claims_of(url: str, kind: str) -> dict[str, str] | None:
    prefix = f"https://t.example.test/t/{kind}/"
    assert url.startswith(prefix), url
    return verify(KEY, kind, url.removeprefix(prefix))


def test_a_token_verifies_only_unaltered_under_its_key_and_kind() -> None:
    token = sign(KEY, "c", {"m": "msg_1", "u": "https://shop.test/"})
    assert verify(KEY, "c", token) == {"m": "msg_1", "u": "https://shop.test/"}
    body, mac = token.split(".")
    forged = sign(b"x" * 32, "c", {"m": "msg_1", "u": "https://evil.test/"})
    assert verify(KEY, "c", forged) is None
    assert verify(KEY, "c", forged.split(".")[0] + "." + mac) is None  # Another URL, the old signature.
    assert verify(KEY, "o", token) is None  # A click token is no open token.
    for broken in ("", ".", "abc", token + "x", body, f"{body}.!!"):
        assert verify(KEY, "c", broken) is None


def test_every_web_link_in_html_is_tracked_and_an_open_image_added() -> None:
    document = (
        '<html><body><a href="https://shop.test/a?x=1&amp;y=2">A</a> <a href="mailto:hi@shop.test">mail</a>'
        " <A HREF='http://shop.test/b'>B</A> <a href=\"#top\">top</a></body></html>"
    )
    tracked = tracker.html(document, "msg_1", "ct_1")
    hrefs = re.findall(r"""href=["']([^"']+)""", tracked, re.IGNORECASE)
    assert hrefs[1:] == ["mailto:hi@shop.test", tracked.split("'")[1], "#top"]
    first = claims_of(hrefs[0].replace("&amp;", "&"), "c")
    assert first == {"m": "msg_1", "c": "ct_1", "u": "https://shop.test/a?x=1&y=2"}
    assert claims_of(hrefs[2], "c") == {"m": "msg_1", "c": "ct_1", "u": "http://shop.test/b"}
    [pixel] = re.findall(r'<img src="([^"]+)"', tracked)
    assert claims_of(pixel, "o") == {"m": "msg_1", "c": "ct_1"}
    assert tracked.endswith("</body></html>")


def test_bare_urls_in_text_are_tracked_and_trigger_links_left_alone() -> None:
    trigger = tracker.link_url("ct_1", "lnk_1", "msg_1")
    text = f"See https://shop.test/sale. Or {trigger} now."
    tracked = tracker.text(text, "msg_1", "ct_1")
    [sale, kept] = re.findall(r"https://t\.example\.test/t/c/\S+", tracked)
    assert claims_of(sale.rstrip("."), "c") == {"m": "msg_1", "c": "ct_1", "u": "https://shop.test/sale"}
    assert kept == trigger and claims_of(kept, "c") == {"c": "ct_1", "l": "lnk_1", "m": "msg_1"}
