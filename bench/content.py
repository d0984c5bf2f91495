"""Realistic email content: newsletter HTML of a given size, with inline styles,
tables, links and merge fields, as email builders produce it."""

_HEAD = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}</title>
<style>body{{margin:0;background:#f4f4f7;font-family:Helvetica,Arial,sans-serif}}
.card{{background:#fff;border-radius:6px;padding:24px}}</style></head>
<body><table role="presentation" width="100%" cellpadding="0" cellspacing="0"><tr><td align="center">
<h1 style="color:#1f2937;font-size:24px">Hi {{{{ contact.first_name | default('there') }}}},</h1>
"""
_BLOCK = """<table role="presentation" class="card" width="600" cellpadding="0" cellspacing="0"
 style="margin:12px auto;border:1px solid #e5e7eb"><tr><td style="padding:16px 24px">
<img src="https://cdn.example.com/products/{n}.png" width="552" alt="Product {n}" style="display:block">
<h2 style="font-size:18px;color:#111827;margin:12px 0 4px">Product {n}: the one you were looking at</h2>
<p style="font-size:14px;line-height:22px;color:#4b5563;margin:0 0 12px">Lorem ipsum dolor sit amet,
consectetur adipiscing elit. Sed do eiusmod tempor incididunt ut labore et dolore magna aliqua, {{{{
contact.first_name | default('friend') }}}}. Ut enim ad minim veniam, quis nostrud exercitation.</p>
<a href="https://shop.example.com/p/{n}?utm_source=goalflow&amp;utm_campaign={title}"
 style="background:#2563eb;color:#fff;padding:10px 18px;border-radius:4px;text-decoration:none">
Shop now</a></td></tr></table>
"""
_TAIL = """<p style="font-size:12px;color:#9ca3af">You receive this because you signed up at example.com.</p>
</td></tr></table></body></html>"""


def newsletter_html(size: int, title: str = "newsletter") -> str:
    """An HTML email of about `size` bytes (a little over it)."""
    parts = [_HEAD.format(title=title)]
    n = 0
    while sum(map(len, parts)) + len(_TAIL) < size:
        n += 1
        parts.append(_BLOCK.format(n=n, title=title))
    return "".join(parts) + _TAIL
