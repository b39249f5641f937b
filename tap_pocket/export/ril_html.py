"""The legacy ``ril_export.html`` to ``items`` rows.

It holds ``<h1>Unread</h1>`` and ``<h1>Read Archive</h1>`` lists of
``<a href time_added tags>`` links: each link gives ``item_id``
(:mod:`tap_pocket.export.ids`), ``given_url``, ``given_title`` (the link text),
``status`` (from its list), ``time_added`` and ``time_updated`` (the same moment), and
``tags`` (comma-separated, trimmed, each once, sorted). The file is parsed in chunks:
memory stays flat at any size.

Damage. A file that ends before its end (cut short: inside a link or a tag, or without
the closing tags of its ``<ul>``, ``<body>`` and ``<html>``) is an error naming the last
line read, even with ``skip_bad_rows``; a link cut by the end is never loaded. A link
that is not closed by ``</a>``, an ``</a>`` without its ``<a>``, a link after a damaged
list heading, a value over :data:`~.problems.FIELD_CAP` and a tag (or comment) over
:data:`~.problems.RECORD_CAP` are bad rows; after an over-long tag, reading goes on with
the text after it. Chunks grow with the text html.parser holds back (an unfinished tag),
so the time stays linear in the file's size.
"""

from __future__ import annotations

import re
import typing as t
from dataclasses import dataclass, field
from html.parser import HTMLParser

from typing_extensions import override

from tap_pocket.export.ids import digest, normalise_url, unescape_entities
from tap_pocket.export.layout import ZIP_DAMAGE, damaged_member_error
from tap_pocket.export.problems import (
    FIELD_CAP,
    RECORD_CAP,
    ExportError,
    size_text,
    time_added_problem,
)
from tap_pocket.export.utf8 import invalid_utf8_problem
from tap_pocket.timestamps import parse_timestamp

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    from tap_pocket.export.layout import ExportFile
    from tap_pocket.export.problems import BadRows, SeenIds

#: Headings of the two lists (lower-cased) to statuses.
_LIST_STATUSES = {"unread": "unread", "read archive": "archived"}
_CHUNK_CHARS = 64 * 1024
#: The heading links get after an ``</h1>`` without its ``<h1>``, or inside an ``<h1>``.
_DAMAGED_HEADING = "\x00damaged"
#: Elements a complete export closes once opened, innermost first.
_MUST_CLOSE = ("ul", "body", "html")
_CUT_SHORT = "it was cut short; download your Pocket export again"


@dataclass
class _Link:
    """One ``<a>`` of ril_export.html, as parsed."""

    line: int
    heading: str | None
    attrs: dict[str, str]
    text: list[str] = field(default_factory=list)
    size: int = 0  # characters of text seen (kept only up to FIELD_CAP)
    problem: str | None = None


class _RilExportParser(HTMLParser):
    """Collects ril_export.html's links while it is fed in chunks.

    html.parser decodes entity references in text and attribute values. ``problems``
    collects what is wrong outside any link (an ``</a>`` without ``<a>``), by line.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[_Link] = []
        self.problems: list[tuple[int, str]] = []
        self.unclosed = dict.fromkeys(_MUST_CLOSE, 0)  # opened and not yet closed
        self._heading_text: list[str] | None = None
        self._heading: str | None = None
        self._link: _Link | None = None

    @override
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _MUST_CLOSE:
            self.unclosed[tag] += 1
        if tag == "h1":
            self._heading_text = []
        elif tag == "a":
            if self._link is not None:
                self._link.problem = "the link is not closed (no </a> before the next link)"
                self._finish_link()
            self._link = _Link(
                line=self.getpos()[0],
                heading=_DAMAGED_HEADING if self._heading_text is not None else self._heading,
                attrs={name: value or "" for name, value in attrs},
                problem=_tag_problem(attrs),
            )

    @override
    def handle_endtag(self, tag: str) -> None:
        if tag in _MUST_CLOSE and self.unclosed[tag]:
            self.unclosed[tag] -= 1
        if tag == "h1":
            if self._heading_text is None:
                self._heading = _DAMAGED_HEADING
            else:
                self._heading = " ".join("".join(self._heading_text).split())
                self._heading_text = None
        elif tag == "a":
            if self._link is None:
                self.problems.append((self.getpos()[0], "an </a> without its <a>: a damaged link"))
            self._finish_link()

    @override
    def handle_data(self, data: str) -> None:
        link = self._link
        if link is not None:
            link.size += len(data)
            if link.size <= FIELD_CAP:
                link.text.append(data)
            elif link.text:
                link.text.clear()
                link.problem = f"the link's text is longer than the cap of {size_text(FIELD_CAP)}"
        elif self._heading_text is not None and len(self._heading_text) < _HEADING_PIECES:
            self._heading_text.append(data)

    def at_end(self) -> str | None:
        """Where the file ended, if not after a complete export (before ``close``)."""
        if self._link is not None:
            return "inside a link (its </a> is missing)"
        if self.rawdata.strip():
            return "inside a tag"
        missing = [f"</{tag}>" for tag, count in self.unclosed.items() for _ in range(count)]
        if missing:
            return f"without its closing tags ({', '.join(missing)})"
        return None

    def skip_pending(self) -> None:
        """Drop the unfinished tag html.parser holds back; count its lines."""
        self.lineno += self.rawdata.count("\n")
        self.rawdata = ""

    def _finish_link(self) -> None:
        if self._link is not None:
            self.links.append(self._link)
            self._link = None


_HEADING_PIECES = 64
#: In an attribute value: a quote that is not closed has swallowed the lines after it.
_SWALLOWED = re.compile(r"\n|<a[\s>]|</a>|<li>", re.IGNORECASE)
_NOT_CLOSED = "a quote that is not closed?"
_NOT_A_NAME = re.compile(r"[\"'<>/=]")


def _tag_problem(attrs: list[tuple[str, str | None]]) -> str | None:
    """Why an ``<a>`` tag is damaged: a value over its cap, or a quote that ran on.

    One link per line: a value holding a line break or the next link's markup, a name
    that is no name, or an attribute given twice, means a quote was not closed and the
    tag swallowed the links after it.
    """
    names = set()
    for name, value in attrs:
        if value is not None and len(value) > FIELD_CAP:
            return f"the link's {name} is longer than the cap of {size_text(FIELD_CAP)}"
        if name in names or _NOT_A_NAME.search(name) or (value and _SWALLOWED.search(value)):
            return f"the link's tag is damaged: its {name[:40]!r} attribute runs on ({_NOT_CLOSED})"
        names.add(name)
    return None


def _item(link: _Link) -> dict[str, t.Any] | str:  # noqa: PLR0911 - one return per reason
    """The ``items`` row of one link, or why there can be none."""
    if link.problem is not None:
        return link.problem
    if link.heading == _DAMAGED_HEADING:
        return "a link after a damaged list heading: expected it in the Unread or Read Archive list"
    status = _LIST_STATUSES.get((link.heading or "").lower())
    if status is None:
        where = f"under the heading {link.heading!r}" if link.heading else "before any list"
        return f"a link {where}: expected it in the Unread or Read Archive list"
    href = link.attrs.get("href", "")
    title = "".join(link.text)
    tags = link.attrs.get("tags", "")
    time_added = link.attrs.get("time_added")
    invalid = invalid_utf8_problem(href, title, tags, time_added or "")
    if invalid:
        return invalid
    url = normalise_url(href)
    if not url:
        return "the link has no href (URL)"
    if time_added is None:
        return "the link has no time_added attribute"
    added = parse_timestamp(time_added)
    if added is None:
        return time_added_problem(time_added)
    return {
        "item_id": "u" + digest(url),
        "given_url": url,
        "given_title": unescape_entities(title) if "&" in title else title,
        "status": status,
        "time_added": added,
        "time_updated": added,
        "tags": sorted({tag.strip() for tag in tags.split(",")} - {""}),
    }


def html_items(file: ExportFile, seen: SeenIds, bad: BadRows) -> Iterator[dict[str, t.Any]]:  # noqa: C901 - one loop
    """The ``items`` rows of one ril_export.html, in file order, skipping ids in ``seen``."""
    parser = _RilExportParser()
    newlines = 0
    ends_with_newline = True
    with file.open_text() as text:
        while True:
            # Read at least as much as html.parser holds back: each feed rescans it.
            try:
                chunk = text.read(max(_CHUNK_CHARS, len(parser.rawdata)))
            except ZIP_DAMAGE as exc:
                raise damaged_member_error(file, parser.getpos()[0], exc) from exc
            if chunk:
                newlines += chunk.count("\n")
                ends_with_newline = chunk.endswith("\n")
                parser.feed(chunk)
                if len(parser.rawdata) > RECORD_CAP:
                    line = parser.getpos()[0]
                    parser.skip_pending()
                    bad.report(
                        ExportError(
                            file.name,
                            f"a tag longer than the cap of {size_text(RECORD_CAP)} (a quote "
                            "or a comment that is not closed?)",
                            line=line,
                        ),
                        note=f"; reading on after it, from line {parser.getpos()[0]}",
                    )
            else:
                ended = parser.at_end()
                if ended is not None:
                    last = newlines + (0 if ends_with_newline else 1)
                    raise ExportError(
                        file.name, f"the file ends {ended}: {_CUT_SHORT}", line=max(last, 1)
                    )
                parser.close()
            links, parser.links = parser.links, []
            problems, parser.problems = parser.problems, []
            for line, problem in problems:
                bad.report(ExportError(file.name, problem, line=line))
            for link in links:
                row = _item(link)
                if isinstance(row, str):
                    bad.report(ExportError(file.name, row, line=link.line))
                    continue
                key = int(row["item_id"][1:], 16)
                if key in seen.keys:
                    seen.duplicate(
                        f"{file.name}, line {link.line}", f"URL {row['given_url']} again"
                    )
                    continue
                seen.keys.add(key)
                yield row
            if not chunk:
                return
