"""What a page says of itself: trafilatura's metadata, then its main text.

:func:`extract` is a plain function of bytes, so it runs in a worker process: extraction
is CPU work and must not hold up the fetching.
"""

from __future__ import annotations

import codecs
import re
import typing as t

#: Bytes read from the start of a body to tell HTML from something else.
_SNIFF = 1024
_HTML_START = re.compile(
    rb"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body|title|meta)",
    re.IGNORECASE | re.DOTALL,
)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([\w.:-]+)""", re.IGNORECASE)
_HTML_LANG = re.compile(
    r"""<html[^>]*?\slang\s*=\s*["']?([A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*)""", re.IGNORECASE
)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
EXCERPT_CHARS = 280
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})


def looks_like_html(body: bytes) -> bool:
    """Whether a body without a usable media type is HTML (no NUL bytes, starts like HTML)."""
    head = body[:_SNIFF].lstrip(b"\xef\xbb\xbf")
    return b"\x00" not in head and bool(_HTML_START.match(head))


def decode(body: bytes, charset: str | None) -> str | bytes:
    """The body as text, by the answer's charset, else its ``<meta charset>``.

    A charset that is unknown or does not decode the body is ignored; when neither
    decodes it cleanly, the bytes go to trafilatura, which guesses the encoding.
    """
    candidates = [charset] if charset else []
    found = _META_CHARSET.search(body[:4096])
    if found:
        candidates.append(found.group(1).decode("ascii", "replace"))
    for name in candidates:
        try:
            codecs.lookup(name)
            return body.decode(name)
        except (LookupError, UnicodeDecodeError):  # noqa: PERF203 - the next candidate
            continue
    return body


def extract(body: bytes, charset: str | None, url: str) -> dict[str, t.Any]:
    """The page's own columns, each None when the page does not say.

    title, excerpt, lang, word_count, authors, published_at, top_image_url, site_name, text.
    """
    import trafilatura
    from trafilatura.settings import Document

    html = decode(body, charset)
    try:
        document = trafilatura.bare_extraction(
            html, url=url, with_metadata=True, include_comments=False, fast=True
        )
    except Exception:  # noqa: BLE001 - a page the extractor cannot read has no columns
        document = None
    columns: dict[str, t.Any] = dict.fromkeys(
        (
            "title",
            "excerpt",
            "lang",
            "word_count",
            "authors",
            "published_at",
            "top_image_url",
            "site_name",
            "text",
        )
    )
    text_head = html[:4096] if isinstance(html, str) else html[:4096].decode("latin-1")
    lang = _HTML_LANG.search(text_head)
    if lang:
        columns["lang"] = lang.group(1).replace("_", "-")
    if not isinstance(document, Document):
        return columns
    text = (document.text or "").strip() or None
    columns["text"] = text
    columns["word_count"] = len(text.split()) if text else None
    columns["title"] = (document.title or "").strip() or None
    description = (document.description or "").strip()
    if not description and text:
        description = text[:EXCERPT_CHARS].rsplit(" ", 1)[0] if len(text) > EXCERPT_CHARS else text
    columns["excerpt"] = description or None
    if document.author:
        columns["authors"] = [a.strip() for a in document.author.split(";") if a.strip()]
    if document.date and _DATE.match(document.date):
        columns["published_at"] = f"{document.date}T00:00:00+00:00"
    columns["top_image_url"] = document.image or None
    columns["site_name"] = document.sitename or None
    if not columns["lang"] and document.language:
        columns["lang"] = document.language
    return columns
