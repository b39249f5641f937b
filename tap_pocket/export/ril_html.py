"""The legacy ``ril_export.html`` to ``items`` rows.

It holds ``<h1>Unread</h1>`` and ``<h1>Read Archive</h1>`` lists of
``<a href time_added tags>`` links: each link gives ``item_id``
(:mod:`tap_pocket.export.ids`), ``given_url``, ``given_title`` (the link text),
``status`` (from its list), ``time_added`` and ``time_updated`` (the same moment), and
``tags`` (comma-separated, sorted). The file is parsed in chunks: memory stays flat at
any size.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field
from html.parser import HTMLParser

from typing_extensions import override

from tap_pocket.export.ids import digest, normalise_url, unescape_entities
from tap_pocket.export.layout import ZIP_DAMAGE, damaged_member_error
from tap_pocket.export.problems import ExportError, time_added_problem
from tap_pocket.export.utf8 import invalid_utf8_problem
from tap_pocket.timestamps import parse_timestamp

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    from tap_pocket.export.layout import ExportFile
    from tap_pocket.export.problems import BadRows, SeenIds

#: Headings of the two lists (lower-cased) to statuses.
_LIST_STATUSES = {"unread": "unread", "read archive": "archived"}
_CHUNK_CHARS = 64 * 1024


@dataclass
class _Link:
    """One ``<a>`` of ril_export.html, as parsed."""

    line: int
    heading: str | None
    attrs: dict[str, str]
    text: list[str] = field(default_factory=list)


class _RilExportParser(HTMLParser):
    """Collects ril_export.html's links while it is fed in chunks.

    html.parser decodes entity references in text and attribute values.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[_Link] = []
        self._heading_text: list[str] | None = None
        self._heading: str | None = None
        self._link: _Link | None = None

    @override
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "h1":
            self._heading_text = []
        elif tag == "a":
            self._finish_link()
            self._link = _Link(
                line=self.getpos()[0],
                heading=self._heading,
                attrs={name: value or "" for name, value in attrs},
            )

    @override
    def handle_endtag(self, tag: str) -> None:
        if tag == "h1" and self._heading_text is not None:
            self._heading = " ".join("".join(self._heading_text).split())
            self._heading_text = None
        elif tag == "a":
            self._finish_link()

    @override
    def handle_data(self, data: str) -> None:
        if self._link is not None:
            self._link.text.append(data)
        elif self._heading_text is not None:
            self._heading_text.append(data)

    @override
    def close(self) -> None:
        super().close()
        self._finish_link()

    def _finish_link(self) -> None:
        if self._link is not None:
            self.links.append(self._link)
            self._link = None


def _item(link: _Link) -> dict[str, t.Any] | str:
    """The ``items`` row of one link, or why there can be none."""
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
        "tags": sorted(filter(None, (tag.strip() for tag in tags.split(",")))),
    }


def html_items(file: ExportFile, seen: SeenIds, bad: BadRows) -> Iterator[dict[str, t.Any]]:
    """The ``items`` rows of one ril_export.html, in file order, skipping ids in ``seen``."""
    parser = _RilExportParser()
    with file.open_text() as text:
        while True:
            try:
                chunk = text.read(_CHUNK_CHARS)
            except ZIP_DAMAGE as exc:
                raise damaged_member_error(file, parser.getpos()[0], exc) from exc
            if chunk:
                parser.feed(chunk)
            else:
                parser.close()
            links, parser.links = parser.links, []
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
