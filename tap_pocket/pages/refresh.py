"""Redirects that come as a page: ``Refresh``, ``<meta http-equiv="refresh">``, ``location``.

``t.co``, feed proxies and many link shorteners answer 200 with a tiny page that sends
the browser on: a ``Refresh: 0; url=...`` header, a ``<meta http-equiv="refresh"
content="0;url=...">`` in the page's head, or a script setting ``location``. The fetcher
follows them as redirects (each hop checked like any other, and counted in the limit of
10), so the row describes the article rather than the interstitial.

What is followed:

- a ``Refresh`` header or meta refresh naming a URL, with a delay of at most
  :data:`MAX_DELAY` seconds (a page that reloads itself every few minutes, or names no
  URL, stays the page), parsed as the HTML standard's "shared declarative refresh steps";
  a meta refresh a browser would not act on (in a comment, in a script, or in
  ``<noscript>`` of a page larger than an interstitial) is not followed;
- a JavaScript redirect only in a minimal interstitial: a page of at most
  :data:`INTERSTITIAL_BYTES` bytes whose script assigns ``location`` (``location.href``,
  ``location.replace(...)``, ``window.location = ...``) an absolute http(s) URL literal.
  Anything larger is an article that happens to contain a script.
"""

from __future__ import annotations

import re

#: Longest delay (seconds) of a refresh that is still a redirect rather than a reload.
MAX_DELAY = 10.0
#: Largest page whose ``location`` script counts as an interstitial's redirect.
INTERSTITIAL_BYTES = 4096
#: Bytes of the body searched for a meta refresh (it belongs in the head).
_HEAD_BYTES = 64 * 1024

_META = re.compile(rb"<meta\b[^>]*>", re.IGNORECASE)
_ATTRIBUTE = re.compile(rb"""([^\s"'>/=]+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s"'>]+))?""", re.IGNORECASE)
_BODY_START = re.compile(rb"<body[\s>]", re.IGNORECASE)
#: What a browser does not act on: comments (IE's conditional ones too), scripts' text.
_UNSEEN = re.compile(rb"<!--.*?(?:-->|$)|<script\b.*?(?:</script\s*>|$)", re.IGNORECASE | re.DOTALL)
#: What a browser running scripts does not act on either.
_NOSCRIPT = re.compile(rb"<noscript\b.*?(?:</noscript\s*>|$)", re.IGNORECASE | re.DOTALL)
_LOCATION = re.compile(
    r"""(?:\b(?:window|document|self|top)\s*\.\s*)?\blocation\s*"""
    r"""(?:\.\s*href\s*=|=|\.\s*(?:replace|assign)\s*\()\s*"""
    r"""(?P<quote>["'])(?P<url>https?:(?:\\?/){2}[^"'\s<>]+)(?P=quote)""",
    re.IGNORECASE,
)


def declared_refresh(value: str) -> str | None:
    """The URL a refresh value (``"0; url=https://..."``) sends to, or None.

    None when it names no URL or waits more than :data:`MAX_DELAY` seconds.
    """
    rest = value.strip(" \t\n\f\r")
    digits = re.match(r"[0-9]*(?:\.[0-9.]*)?", rest)
    number = digits.group(0) if digits else ""
    if not number or number == ".":
        return None
    try:
        if float(number.rstrip(".") or "0") > MAX_DELAY:
            return None
    except ValueError:
        return None
    rest = rest[len(number) :].lstrip(" \t\n\f\r")
    if not rest or rest[0] not in ";,":
        return None
    rest = rest[1:].lstrip(" \t\n\f\r")
    if rest[:3].lower() == "url":
        after = rest[3:].lstrip(" \t\n\f\r")
        if after.startswith("="):
            rest = after[1:].lstrip(" \t\n\f\r")
    if rest[:1] in {'"', "'"}:
        quote, rest = rest[0], rest[1:]
        rest = rest.split(quote, 1)[0]
    url = rest.strip()
    return url or None


def meta_refresh(body: bytes, charset: str | None) -> str | None:
    """The URL of the page's ``<meta http-equiv="refresh">`` (before its ``<body>``).

    Not one in a comment (``<!--[if lte IE 9]>``), nor one in ``<noscript>`` unless the
    page is a minimal interstitial (as t.co's: the script beside it goes the same way).
    """
    head = body[:_HEAD_BYTES]
    lowered = head.lower()
    if b"http-equiv" not in lowered or b"refresh" not in lowered:  # most pages: none
        return None
    head = _UNSEEN.sub(b"", head)
    if len(body) > INTERSTITIAL_BYTES:
        head = _NOSCRIPT.sub(b"", head)
    body_start = _BODY_START.search(head)
    if body_start is not None:
        head = head[: body_start.start()]
    for tag in _META.finditer(head):
        attributes = {
            name.lower(): _unquote(value)
            for name, value in _ATTRIBUTE.findall(tag.group(0)[len(b"<meta") : -1])
        }
        if attributes.get(b"http-equiv", b"").strip().lower() == b"refresh":
            content = attributes.get(b"content")
            if content is not None:
                return declared_refresh(_text(content, charset))
    return None


def script_redirect(body: bytes, charset: str | None) -> str | None:
    """The absolute URL a minimal interstitial's script sends ``location`` to, or None."""
    if len(body) > INTERSTITIAL_BYTES:
        return None
    found = _LOCATION.search(_text(body, charset))
    if found is None:
        return None
    # In a JavaScript string "\/" is "/".
    return found.group("url").replace("\\/", "/")


def page_redirect(header: str | None, body: bytes, charset: str | None) -> str | None:
    """Where an answer sends the browser on without a 3xx: header, meta, then script."""
    if header:
        found = declared_refresh(header)
        if found:
            return found
    return meta_refresh(body, charset) or script_redirect(body, charset)


def _unquote(value: bytes) -> bytes:
    if len(value) >= 2 and value[:1] in {b'"', b"'"} and value[-1:] == value[:1]:  # noqa: PLR2004 - two quotes
        return value[1:-1]
    return value


def _text(value: bytes, charset: str | None) -> str:
    import html

    try:
        text = value.decode(charset or "utf-8", "replace")
    except LookupError:
        text = value.decode("utf-8", "replace")
    return html.unescape(text)
