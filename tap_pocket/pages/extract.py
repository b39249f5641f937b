"""What a page says of itself: its metadata, its main text, and whether it is an article.

:func:`extract` is a plain function of a :class:`Job`, run in a worker process
(:mod:`tap_pocket.pages.workers`): extraction is CPU work and must not hold up the
fetching. It first reads the metadata from the page's ``<head>`` alone (cheap, handed to
``on_metadata`` at once, so a page that passes the time limit still has a title), then
the main text with trafilatura. A page that is not the article it was saved for (a
"not found" page, a login wall, a bot challenge, an empty JavaScript shell; see
:mod:`tap_pocket.pages.classify`) gets that error code and no columns.
"""

from __future__ import annotations

import importlib
import re
import typing as t

from tap_pocket.pages.classify import verdict
from tap_pocket.pages.encoding import decode
from tap_pocket.pages.language import declared_language, detect_language

if t.TYPE_CHECKING:
    from collections.abc import Callable

#: Bytes read from the start of a body to tell HTML from something else.
_SNIFF = 1024
_HTML_START = re.compile(
    rb"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body|title|meta)",
    re.IGNORECASE | re.DOTALL,
)
_HEAD_END = re.compile(r"</head\s*>|<body[\s>]", re.IGNORECASE)
#: Characters of a page searched for the end of its ``<head>`` (the metadata pass).
HEAD_CHARS = 512 * 1024
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Each Han character or kana is a word, as CJK word counters (and Pocket) count them.
_CJK = re.compile(
    "[\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f"
    "\U00020000-\U0003134f]"
)
_WORDY = re.compile(r"\w")
EXCERPT_CHARS = 280
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
COLUMNS = (
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
#: What extraction imports, each with the distribution that provides it.
DEPENDENCIES = (
    ("lxml", "lxml"),
    ("lxml_html_clean", "lxml_html_clean"),
    ("trafilatura", "trafilatura"),
    ("charset_normalizer", "charset-normalizer"),
    ("gcld3", "cld3-py"),
)


class Job(t.NamedTuple):
    """A page to extract: its body, the answer's charset, the final and the requested URL."""

    body: bytes
    charset: str | None
    url: str
    requested_url: str


#: A small page each worker extracts before its first real one.
WARM_UP = Job(
    b"<html lang='en'><head><title>Warm-up</title><meta name='author' content='A B'>"
    b"<meta property='article:published_time' content='2020-01-01'></head><body><article>"
    + b"<p>A few sentences of English text so that every step of the extraction runs.</p>" * 8
    + b"</article></body></html>",
    None,
    "http://localhost/warm-up",
    "http://localhost/warm-up",
)


def looks_like_html(body: bytes) -> bool:
    """Whether a body without a usable media type is HTML (no NUL bytes, starts like HTML)."""
    head = body[:_SNIFF].lstrip(b"\xef\xbb\xbf")
    return b"\x00" not in head and bool(_HTML_START.match(head))


def check_dependencies() -> str | None:
    """None when every package extraction needs loads, else one line naming the first.

    The line says how to mend it, too.
    """
    for module, distribution in DEPENDENCIES:
        try:
            importlib.import_module(module)
        except Exception as exc:  # noqa: BLE001, PERF203 - any failure to load is the same news
            return (
                f"the page extractor cannot load {distribution} ({exc}); install tap-pocket "
                f"with its dependencies again (pip install --force-reinstall tap-pocket)"
            )
    return None


def word_count(text: str) -> int:
    """Words of ``text``: each Han character or kana is one word.

    The rest counts its whitespace-separated runs that hold a letter or digit.
    """
    cjk = len(_CJK.findall(text))
    rest = _CJK.sub(" ", text) if cjk else text
    return cjk + sum(1 for run in rest.split() if _WORDY.search(run))


def extract(
    job: Job, on_metadata: Callable[[dict[str, t.Any]], None] | None = None
) -> dict[str, t.Any]:
    """The page's columns (each None when the page does not say) and its ``error``."""
    import trafilatura
    from trafilatura.settings import Document

    html = decode(job.body, job.charset)
    found = metadata(html, job.url)
    if on_metadata is not None:
        on_metadata(found)
    document = trafilatura.bare_extraction(
        html, url=job.url, with_metadata=True, include_comments=False, fast=True
    )
    text = None
    if isinstance(document, Document):
        text = (document.text or "").strip() or None
    error = verdict(
        html=html,
        title=found.get("title"),
        text=text,
        url=job.url,
        requested_url=job.requested_url,
    )
    if error is not None:
        return {"error": error}
    columns = dict(found)
    if isinstance(document, Document):
        columns.update(_document_columns(document))
    columns["text"] = text
    columns["word_count"] = word_count(text) if text else None
    if not columns.get("excerpt") and text:
        cut = text[:EXCERPT_CHARS].rsplit(" ", 1)[0] if len(text) > EXCERPT_CHARS else text
        columns["excerpt"] = cut
    if not columns.get("lang") and text:
        columns["lang"] = detect_language(text)
    return {**dict.fromkeys(COLUMNS), **columns, "error": None}


def metadata(html: str, url: str) -> dict[str, t.Any]:
    """What the page's ``<head>`` says (the cheap pass), only the columns it has.

    title, excerpt, lang, authors, published_at, top_image_url, site_name.
    """
    from trafilatura.metadata import extract_metadata
    from trafilatura.utils import load_html

    end = _HEAD_END.search(html, 0, HEAD_CHARS)
    head = html[: end.start()] if end else html[:HEAD_CHARS]
    tree = load_html(head + "</head><body></body></html>")
    if tree is None:
        return {}
    columns = _document_columns(extract_metadata(tree, default_url=url))
    lang = declared_language(tree)
    if lang:
        columns["lang"] = lang
    return columns


def _document_columns(document: t.Any) -> dict[str, t.Any]:
    """The metadata columns a trafilatura Document holds (only those it has)."""
    columns: dict[str, t.Any] = {
        "title": (document.title or "").strip() or None,
        "excerpt": (document.description or "").strip() or None,
        "top_image_url": document.image or None,
        "site_name": document.sitename or None,
    }
    if document.author:
        authors = [a.strip() for a in document.author.split(";") if a.strip()]
        columns["authors"] = authors or None
    if document.date and _DATE.match(document.date):
        columns["published_at"] = f"{document.date}T00:00:00+00:00"
    return {name: value for name, value in columns.items() if value is not None}
