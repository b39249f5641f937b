"""The legacy ``ril_export.html`` to ``items`` rows.

It holds ``<h1>Unread</h1>`` and ``<h1>Read Archive</h1>`` lists of
``<a href time_added tags>`` links: each link gives ``item_id``
(:mod:`tap_pocket.export.ids`), ``given_url``, ``given_title`` (the link text),
``status`` (from its list), ``time_added`` and ``time_updated`` (the same moment), and
``tags`` (comma-separated, trimmed, each once, sorted). Values are what Pocket stored,
decoded as the CSV reader decodes its fields, so a link gets the same ``given_url`` and
``item_id`` from either export. The file is read in chunks, by HTML's own tokenizer rules
(:mod:`~.html_tokens`): memory stays flat at any size, and whatever HTML allows in an
attribute value (a line break, ``>``, ``'``, character references, any character) loads.

Damage. A file that ends before its end (cut short: inside a link, a tag or a comment, or
without the closing tags of its ``<ul>``, ``<body>`` and ``<html>``) is an error naming
the last line read, even with ``skip_bad_rows``; a link cut by the end is never loaded.
A link whose tag HTML reads with a parse error (a quote that is not closed runs on into
the text after it), a link that is not closed by ``</a>``, an ``</a>`` without its
``<a>``, a link after a damaged list heading, a value over :data:`~.problems.FIELD_CAP`
and a tag (or comment) over :data:`~.problems.RECORD_CAP` are bad rows; after an
over-long tag, reading goes on with the text after it. Chunks grow with the text the
tokenizer holds back (an unfinished tag), so the time stays linear in the file's size.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field

from tap_pocket.export.html_tokens import StartTag, Text, Tokenizer
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
from tap_pocket.timestamps import read_unix_time

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    from tap_pocket.export.html_tokens import EndTag, Token
    from tap_pocket.export.layout import ExportFile
    from tap_pocket.export.problems import BadRows, RoundedTimes, SeenIds

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
    """One ``<a>`` of ril_export.html, as read."""

    line: int
    heading: str | None
    attrs: dict[str, str]
    text: list[str] = field(default_factory=list)
    size: int = 0  # characters of text seen (kept only up to FIELD_CAP)
    problem: str | None = None


class _RilExport:
    """Collects ril_export.html's links from its tokens (:mod:`~.html_tokens`).

    ``problems`` collects what is wrong outside any link (an ``</a>`` without ``<a>``), by
    line.
    """

    def __init__(self) -> None:
        self.links: list[_Link] = []
        self.problems: list[tuple[int, str]] = []
        self.unclosed = dict.fromkeys(_MUST_CLOSE, 0)  # opened and not yet closed
        self._heading_text: list[str] | None = None
        self._heading: str | None = None
        self._link: _Link | None = None

    def take(self, token: Token) -> None:
        """Read one token."""
        if isinstance(token, Text):
            self._text(token.text)
        elif isinstance(token, StartTag):
            self._start(token)
        else:
            self._end(token)

    def _start(self, tag: StartTag) -> None:
        name = tag.name
        if name in _MUST_CLOSE:
            self.unclosed[name] += 1
        if name == "h1":
            self._heading_text = []
        elif name == "a":
            if self._link is not None:
                self._link.problem = "the link is not closed (no </a> before the next link)"
                self._finish_link()
            self._link = _Link(
                line=tag.line,
                heading=_DAMAGED_HEADING if self._heading_text is not None else self._heading,
                attrs=tag.attributes,
                problem=_tag_problem(tag),
            )

    def _end(self, tag: EndTag) -> None:
        name = tag.name
        if name in _MUST_CLOSE and self.unclosed[name]:
            self.unclosed[name] -= 1
        if name == "h1":
            if self._heading_text is None:
                self._heading = _DAMAGED_HEADING
            else:
                self._heading = " ".join("".join(self._heading_text).split())
                self._heading_text = None
        elif name == "a":
            if self._link is None:
                self.problems.append((tag.line, "an </a> without its <a>: a damaged link"))
            self._finish_link()

    def _text(self, data: str) -> None:
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

    def at_end(self, tokens: Tokenizer) -> str | None:
        """Where the file ended, if not after a complete export."""
        if self._link is not None:
            return "inside a link (its </a> is missing)"
        ended = tokens.at_end()
        if ended is not None:
            return ended
        missing = [f"</{tag}>" for tag, count in self.unclosed.items() for _ in range(count)]
        if missing:
            return f"without its closing tags ({', '.join(missing)})"
        return None

    def _finish_link(self) -> None:
        if self._link is not None:
            self.links.append(self._link)
            self._link = None


_HEADING_PIECES = 64


def _tag_problem(tag: StartTag) -> str | None:
    """Why an ``<a>`` tag is damaged: HTML says it is broken, or a value is over its cap."""
    if tag.error is not None:
        return f"the link's tag is damaged: {tag.error.describe()}; a quote that is not closed?"
    for name, value in tag.attributes.items():
        if len(value) > FIELD_CAP:
            return f"the link's {name[:40]} is longer than the cap of {size_text(FIELD_CAP)}"
    return None


def _item(link: _Link) -> tuple[dict[str, t.Any], bool] | str:  # noqa: PLR0911 - one return per reason
    """The ``items`` row of one link and whether its time's fraction was cut, or why not.

    Values are decoded as the CSV reader decodes its fields (entity references with their
    ``;``, see :func:`~.ids.normalise_url`), so a link gets the same ``given_url`` and
    ``item_id`` from either export.
    """
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
    time_added = unescape_entities(time_added)
    moment = read_unix_time(time_added)
    if moment.iso is None:
        return time_added_problem(time_added) or "unreadable time_added"
    tags = unescape_entities(tags)
    return {
        "item_id": "u" + digest(url),
        "given_url": url,
        "given_title": unescape_entities(title) if "&" in title else title,
        "status": status,
        "time_added": moment.iso,
        "time_updated": moment.iso,
        "tags": sorted({tag.strip() for tag in tags.split(",")} - {""}),
    }, moment.fraction_cut


def html_items(
    file: ExportFile, seen: SeenIds, bad: BadRows, times: RoundedTimes
) -> Iterator[dict[str, t.Any]]:
    """The ``items`` rows of one ril_export.html, in file order, skipping ids in ``seen``."""
    tokens = Tokenizer()
    export = _RilExport()
    with file.open_text() as text:
        while True:
            # Read at least as much as the tokenizer holds back: each feed reads it again.
            try:
                chunk = text.read(max(_CHUNK_CHARS, tokens.pending))
            except ZIP_DAMAGE as exc:
                raise damaged_member_error(file, tokens.line, exc) from exc
            if chunk:
                for token in tokens.feed(chunk):
                    export.take(token)
                if tokens.pending > RECORD_CAP:
                    line = tokens.line
                    tokens.skip_pending()
                    bad.report(
                        ExportError(
                            file.name,
                            f"a tag longer than the cap of {size_text(RECORD_CAP)} (a quote "
                            "or a comment that is not closed?)",
                            line=line,
                        ),
                        note=f"; reading on after it, from line {tokens.line}",
                    )
            else:
                ended = export.at_end(tokens)
                if ended is not None:
                    raise ExportError(
                        file.name, f"the file ends {ended}: {_CUT_SHORT}", line=tokens.last_line()
                    )
            links, export.links = export.links, []
            problems, export.problems = export.problems, []
            for line, problem in problems:
                bad.report(ExportError(file.name, problem, line=line))
            yield from _rows(links, file, seen, bad, times)
            if not chunk:
                return


def _rows(
    links: list[_Link], file: ExportFile, seen: SeenIds, bad: BadRows, times: RoundedTimes
) -> Iterator[dict[str, t.Any]]:
    """The rows of ``links``: bad ones reported, the first of each URL kept."""
    for link in links:
        item = _item(link)
        if isinstance(item, str):
            bad.report(ExportError(file.name, item, line=link.line))
            continue
        row, cut = item
        key = int(row["item_id"][1:], 16)
        if key in seen.keys:
            seen.duplicate(f"{file.name}, line {link.line}", f"URL {row['given_url']} again")
            continue
        seen.keys.add(key)
        if cut:
            times.note(
                f"{file.name}, line {link.line}", link.attrs["time_added"], row["time_added"]
            )
        yield row
