"""Read a Pocket export into the same ``items`` and ``highlights`` rows as the API path.

Pocket closed in 2025; what users hold is their export. :class:`ExportReader` reads it
from the ``export_path`` setting, decides what it is from its content (not its name, see
:func:`detect_kind`) and streams rows, one file at a time:

* ``pocket.zip`` (2024-2025), or the folder it unzips to: ``part_000000.csv``, … (read
  in part-number order) with ``title,url,time_added,tags,status`` (Oct 2024-Mar 2025:
  ``title,url,time_added,cursor,tags,status``; columns are found by name), plus
  ``annotations/part_*.json`` (highlights). A ``ril_export.html`` next to CSV parts is
  ignored (the parts hold the same items); without parts it is read instead.
* a single ``part_*.csv``.
* the legacy ``ril_export.html``: ``<h1>Unread</h1>`` and ``<h1>Read Archive</h1>``
  lists of ``<a href time_added tags>`` links.
* an API dump: a saved ``/v3/get`` response (also karlicoss/pockexport's
  ``{account, list}``), or a JSON array of its list entries. These are parsed by exactly
  the code of the live API path (:mod:`tap_pocket.records`), tombstones included. A
  deletion notice without a timestamp is stamped with the response's ``since`` (Pocket's
  clock when it answered), which stands in for the API path's ``Date`` header.

What export rows hold: ``given_url`` and ``given_title`` (with the ``&amp;``-style entity
references that leak into CSVs decoded, see :func:`normalise_url`), ``status``
(``unread``/``archived``), ``time_added``, ``time_updated`` (= ``time_added``: an export
is a snapshot, and the replication key is then always set) and ``tags`` (sorted, as the
API path sorts them). Everything an export lacks (favorite, time_read, resolved_*,
excerpt, word_count, …) stays null, nothing is invented: rows carry only the columns that
hold a value, a missing column being null to every Singer target (it also keeps messages
small and the SDK's per-property work short). Titles are otherwise kept as
exported: Pocket's 75-character cuts keep their trailing space, titles that became the
URL stay the URL.

Ids. Exports carry no Pocket ids, so ids are derived (see :func:`derive_item_id` and
:func:`derive_highlight_id`): ``"u"`` or ``"h"`` followed by the first 16 hex digits
(64 bits) of the SHA-256 of the normalised URL (and, for highlights, quote and time).
Pocket's item ids are decimal numbers and its annotation ids UUIDs, so the two can never
collide, and the same URL gets the same id in the CSV and the HTML export of one account.
The id can be recomputed anywhere, e.g. in DuckDB: ``'u' || sha256(given_url)[1:16]``.

Duplicates. One export can list a URL twice (e.g. across parts). As both rows would get
the same ``item_id``, the first occurrence wins: each later one is skipped, logged at
INFO with its file and line, and a WARNING at the end gives their number. Identical
highlights (same URL, quote and time) are handled the same way. Only 64-bit integers
(the ids' own bits) are remembered, not URLs: about 80 bytes per item.

Bad input raises :class:`ExportError`, naming the file (``pocket.zip:part_000001.csv``),
the line and what is wrong. With ``skip_bad_rows`` a bad row is skipped instead, logged
at WARNING (file, line, reason) and counted in a final WARNING; a corrupt zip, a broken
JSON file, a bad CSV header or a file that is not an export stay fatal. Line numbers are
physical lines: a quoted title spanning three lines counts three.

Memory. CSV and HTML are streamed (flat memory at any size). JSON files are read whole:
an annotations part holds at most some thousands of entries and an API dump is one saved
response; the standard library has no streaming JSON parser.
"""

from __future__ import annotations

import codecs
import csv
import enum
import io
import json
import logging
import os
import re
import typing as t
import zipfile
import zlib
from dataclasses import dataclass, field
from hashlib import sha256
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

from tap_pocket.records import (
    HOURS,
    MINUTES_SECONDS,
    UTC_DAY_PREFIXES,
    highlight_records,
    item_record,
    list_entries,
    parse_iso_or_epoch,
    parse_timestamp,
    unix_to_iso,
)

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterator

__all__ = [
    "ExportError",
    "ExportKind",
    "ExportReader",
    "derive_highlight_id",
    "derive_item_id",
    "detect_kind",
    "normalise_url",
    "unix_to_iso",
]

_EXPECTED = (
    "expected pocket.zip, the folder it unzips to, a part_*.csv (header "
    "title,url,time_added,tags,status), ril_export.html, or a saved /v3/get JSON response"
)

# The same bounds as records.parse_timestamp: Pocket launched in 2007.
_EARLIEST_TIMESTAMP = 946_684_800  # 2000-01-01T00:00:00Z
_LATEST_TIMESTAMP = 4_102_444_800  # 2100-01-01T00:00:00Z

#: Export status words to the ``items`` stream's status values.
_CSV_STATUSES = {"unread": "unread", "archive": "archived"}
#: Headings of the legacy HTML export's two lists (lower-cased) to statuses.
_HTML_LIST_STATUSES = {"unread": "unread", "read archive": "archived"}
#: Columns the CSV reader needs; others (such as ``cursor``) are ignored.
_CSV_COLUMNS = ("title", "url", "time_added", "tags", "status")
_CSV_DETECT_COLUMNS = frozenset({"title", "url", "time_added"})

_PART_NUMBER = re.compile(r"part_(\d+)")
_CSV_PART_NAME = re.compile(r"part_[^/]*\.csv", re.IGNORECASE)
_ANNOTATIONS_PART_NAME = re.compile(r"part_[^/]*\.json", re.IGNORECASE)
_HTML_EXPORT_NAME = "ril_export.html"
_HTML_LIST_HEADING = re.compile(rb"<h1>\s*(unread|read archive)\s*</h1>", re.IGNORECASE)
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a local file header; an empty zip
_SNIFF_BYTES = 64 * 1024
_HTML_CHUNK_CHARS = 64 * 1024
_TEXT_CHUNK_BYTES = 64 * 1024
_JSON_WHITESPACE = re.compile(r"[ \t\n\r]*")
#: An entity reference with its ``;``. ``&region=`` in a URL is a query parameter, not
#: ``&reg;``: html.unescape alone would turn it into ``®ion=``.
_ENTITY_REFERENCE = re.compile(r"&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);")


class ExportError(Exception):
    """A Pocket export that cannot be read, with the file, line and reason for users.

    ``file`` names the file, and for a zip member both, as ``pocket.zip:part_000001.csv``.
    ``line`` (and ``end_line`` for a record spanning lines) are physical line numbers.
    """

    def __init__(
        self, file: str, reason: str, *, line: int | None = None, end_line: int | None = None
    ) -> None:
        self.file = file
        self.reason = reason
        self.line = line
        self.end_line = end_line
        super().__init__(f"{self.location}: {reason}")

    @property
    def location(self) -> str:
        if self.line is None:
            return self.file
        if self.end_line is not None and self.end_line != self.line:
            return f"{self.file}, lines {self.line}-{self.end_line}"
        return f"{self.file}, line {self.line}"


# Ids -----------------------------------------------------------------------------------


def _unescape_entities(text: str) -> str:
    """Decode ``&amp;``, ``&#039;``, … until none is left (``&amp;amp;`` leaks happen too).

    Only references ending in ``;`` are decoded; repeating makes it idempotent.
    """
    while "&" in text:
        decoded = _ENTITY_REFERENCE.sub(lambda match: unescape(match.group()), text)
        if decoded == text:
            break
        text = decoded
    return text


def normalise_url(url: str) -> str:
    """The URL as ids are derived from it: entity references decoded, whitespace stripped.

    The 2024-2025 CSV leaks ``&amp;`` into URLs while ril_export.html escapes properly,
    so decoding makes both give the same URL. Idempotent.
    """
    if "&" in url:
        url = _unescape_entities(url)
    return url.strip()


def _url_digest(normalised_url: str) -> str:
    """16 hex digits (64 bits) of the SHA-256 of an already normalised URL."""
    return sha256(normalised_url.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def derive_item_id(url: str) -> str:
    """The ``item_id`` of an export row: ``"u"`` + 16 hex digits of SHA-256(normalised URL).

    The URL is normalised first (:func:`normalise_url`), so ``a?x=1&amp;y=2`` and
    ``a?x=1&y=2`` share an id. The ``u`` keeps it apart from Pocket's numeric ids.
    """
    return "u" + _url_digest(normalise_url(url))


def derive_highlight_id(url: str, quote: str | None, created_at: t.Any) -> str:
    """The ``highlight_id`` of an export highlight: ``"h"`` + 16 hex digits of SHA-256.

    Hashed: the normalised URL, the quote and the moment (``created_at`` as epoch seconds
    or ISO 8601, compared as the UTC time it names), separated by U+001F.
    """
    moment = parse_iso_or_epoch(created_at)
    if moment is None:
        moment = "" if created_at is None else str(created_at).strip()
    key = "\x1f".join((normalise_url(url), quote or "", moment))
    return "h" + sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _time_added_problem(text: str) -> str:
    """Why a ``time_added`` value is unusable (the hot loop rejected it)."""
    shown = _shown(text)
    if not text.strip():
        return "time_added is empty"
    try:
        seconds = int(text)
    except ValueError:
        return f"time_added {shown} is not a unix timestamp (whole seconds since 1970)"
    return f"time_added {seconds} is not a date between 2000 and 2100"


def _shown(value: t.Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "…" + text[-3:]


# Invalid UTF-8 -------------------------------------------------------------------------


class _DecodeErrorCounter:
    """Counts invalid UTF-8 sequences met while decoding export text.

    Text is decoded ahead of parsing, in chunks, so the count says only that some
    invalid bytes were seen. Rows are searched for them (slow) only once the count has
    moved, so a clean file pays one integer comparison per row.
    """

    name = "tap_pocket.export.invalid_utf8"

    def __init__(self) -> None:
        self.count = 0
        self._escape = codecs.lookup_error("surrogateescape")

    def __call__(self, error: UnicodeError) -> tuple[str, int]:
        self.count += 1
        # Each invalid byte becomes a lone surrogate U+DC80-U+DCFF, found again below.
        replacement, resume_at = self._escape(error)
        return str(replacement), resume_at


_DECODE_ERRORS = _DecodeErrorCounter()
codecs.register_error(_DecodeErrorCounter.name, _DECODE_ERRORS)
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]+")


def _invalid_utf8_problem(*texts: str) -> str | None:
    """The invalid bytes in decoded text, described; None if there are none."""
    for text in texts:
        found = _ESCAPED_BYTE.search(text)
        if found:
            shown = " ".join(f"{ord(ch) - 0xDC00:02x}" for ch in found.group()[:8])
            return (
                f"invalid UTF-8 (bytes {shown}): Pocket exports are UTF-8 text; "
                "was the file re-saved in another encoding?"
            )
    return None


# What the export is --------------------------------------------------------------------


class ExportKind(str, enum.Enum):
    """What :func:`detect_kind` found at ``export_path``."""

    ZIP = "zip"  # pocket.zip
    FOLDER = "folder"  # an unzipped pocket.zip
    CSV = "csv"  # one part_*.csv
    HTML = "html"  # the legacy ril_export.html
    API_JSON = "api_json"  # a saved /v3/get response or an array of its list entries


def _missing_path_error(path: Path) -> ExportError:
    return ExportError(
        str(path),
        f"not found: the export_path setting must point to your Pocket export ({_EXPECTED})",
    )


def detect_kind(path: str | os.PathLike[str]) -> ExportKind:
    """Decide what ``path`` holds from its content (a zip is a zip whatever its name).

    A JSON file is only sniffed here (it starts with ``{`` or ``[``); its structure is
    checked when it is read. Raises :class:`ExportError` for anything else.
    """
    path = Path(path).expanduser()
    if path.is_dir():
        return ExportKind.FOLDER
    if not path.exists():
        raise _missing_path_error(path)
    try:
        with path.open("rb") as file:
            head = file.read(_SNIFF_BYTES)
    except OSError as exc:
        raise ExportError(str(path), f"cannot be read: {exc.strerror or exc}") from exc
    kind = _kind_of_content(head)
    if kind is None:
        raise ExportError(str(path), _not_an_export_reason(head))
    return kind


def _kind_of_content(head: bytes) -> ExportKind | None:
    if head.startswith(_ZIP_MAGIC):
        return ExportKind.ZIP
    text = head.removeprefix(codecs.BOM_UTF8).lstrip()
    if text[:1] in (b"{", b"["):
        return ExportKind.API_JSON
    headings = {match.lower() for match in _HTML_LIST_HEADING.findall(head)}
    if headings and (b"time_added=" in head or len(headings) == 2):
        return ExportKind.HTML
    if set(_csv_header_names(head)) >= _CSV_DETECT_COLUMNS:
        return ExportKind.CSV
    return None


def _csv_header_names(head: bytes) -> list[str]:
    first_line = head.removeprefix(codecs.BOM_UTF8).split(b"\n", 1)[0]
    text = first_line.decode("utf-8", "replace")
    try:
        header = next(csv.reader([text]), [])
    except csv.Error:
        return []
    return [name.strip().lower() for name in header]


def _not_an_export_reason(head: bytes) -> str:
    if not head:
        return f"the file is empty; {_EXPECTED}"
    return f"this is not a Pocket export: {_EXPECTED}"


# The files of an export ----------------------------------------------------------------


@dataclass(frozen=True)
class _ExportFile:
    """One file of an export: on disk or in a zip, named as users should see it."""

    name: str
    open_binary: Callable[[], t.IO[bytes]]

    def open_text(self) -> t.TextIO:
        """The file as text: UTF-8 (a BOM is tolerated), newlines kept for the csv module."""
        # Large reads: zip members decompress in Python-level calls, fewer is faster.
        binary = io.BufferedReader(t.cast("io.RawIOBase", self.open_binary()), _TEXT_CHUNK_BYTES)
        return io.TextIOWrapper(
            binary, encoding="utf-8-sig", errors=_DecodeErrorCounter.name, newline=""
        )


@dataclass
class _Layout:
    """The files of a pocket.zip or its unzipped folder, each list in part order."""

    csv_parts: list[_ExportFile] = field(default_factory=list)
    annotation_parts: list[_ExportFile] = field(default_factory=list)
    html: _ExportFile | None = None


def _part_order(name: str) -> tuple[int, str]:
    """Sort key: ``part_2`` before ``part_10`` even where the numbers are not zero-padded."""
    match = _PART_NUMBER.search(name.rsplit("/", 1)[-1])
    return (int(match.group(1)) if match else -1, name)


def _layout_of_names(names: list[str], make: Callable[[str], _ExportFile]) -> _Layout:
    """Sort an export's file names (``/``-separated, relative) into its layout."""
    layout = _Layout()
    for name in sorted(names, key=_part_order):
        folder, _, base = name.rpartition("/")
        if folder == "" and _CSV_PART_NAME.fullmatch(base):
            layout.csv_parts.append(make(name))
        elif folder.lower() == "annotations" and _ANNOTATIONS_PART_NAME.fullmatch(base):
            layout.annotation_parts.append(make(name))
        elif folder == "" and base.lower() == _HTML_EXPORT_NAME:
            layout.html = make(name)
    return layout


def _single_top_folder(names: list[str]) -> str | None:
    """``pocket/`` when every member lies in that one folder (a re-zipped export)."""
    tops = {name.split("/", 1)[0] for name in names if not name.startswith("__MACOSX/")}
    if len(tops) == 1 and all("/" in name for name in names):
        return tops.pop() + "/"
    return None


def _zip_layout(archive: zipfile.ZipFile, zip_name: str) -> _Layout:
    names = [info.filename for info in archive.infolist() if not info.is_dir()]
    prefix = _single_top_folder(names) or ""
    inside = [name[len(prefix) :] for name in names if name.startswith(prefix)]

    def member(name: str) -> _ExportFile:
        return _ExportFile(f"{zip_name}:{prefix}{name}", lambda: archive.open(prefix + name))

    return _layout_of_names(inside, member)


def _folder_layout(folder: Path) -> _Layout:
    names = [entry.name for entry in folder.iterdir() if entry.is_file()]
    annotations = folder / "annotations"
    if annotations.is_dir():
        names += [f"annotations/{entry.name}" for entry in annotations.iterdir() if entry.is_file()]

    def file(name: str) -> _ExportFile:
        on_disk = folder / name
        return _ExportFile(str(on_disk), lambda: on_disk.open("rb"))

    return _layout_of_names(names, file)


def _open_zip(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ExportError(
            str(path),
            f"the zip file is damaged ({exc}); download your Pocket export again",
        ) from exc


_ZIP_DAMAGE = (zipfile.BadZipFile, zlib.error, EOFError)


def _damaged_member_error(file: _ExportFile, line: int | None, exc: Exception) -> ExportError:
    return ExportError(
        file.name,
        f"this zip member is damaged ({exc}); download your Pocket export again",
        line=line,
    )


# Rows ----------------------------------------------------------------------------------


class _BadRows:
    """Raises on a bad row, or with ``skip_bad_rows`` logs, counts and skips it."""

    def __init__(self, skip: bool, logger: logging.Logger, stream: str) -> None:
        self.skip = skip
        self.logger = logger
        self.stream = stream
        self.count = 0

    def report(self, error: ExportError) -> None:
        if not self.skip:
            raise error
        self.count += 1
        self.logger.warning("Skipped a bad %s row (skip_bad_rows): %s", self.stream, error)

    def summarise(self, export: str) -> None:
        if self.count:
            self.logger.warning(
                "Skipped %d bad %s row(s) of %s (skip_bad_rows); each is logged above",
                self.count,
                self.stream,
                export,
            )


class _SeenIds:
    """Ids already emitted, as 64-bit integers: the first row of an id wins."""

    def __init__(self, logger: logging.Logger, stream: str) -> None:
        self.keys: set[int] = set()
        self.duplicates = 0
        self.logger = logger
        self.stream = stream

    def duplicate(self, location: str, what: str) -> None:
        self.duplicates += 1
        self.logger.info("Skipped a duplicate %s row at %s: %s", self.stream, location, what)

    def summarise(self, export: str) -> None:
        if self.duplicates:
            self.logger.warning(
                "Skipped %d duplicate %s row(s) of %s: the first row of each wins",
                self.duplicates,
                self.stream,
                export,
            )


@dataclass(frozen=True)
class _CsvColumns:
    """Where each needed column sits in a CSV part, found by name in its header."""

    width: int
    title: int
    url: int
    time_added: int
    tags: int
    status: int

    @classmethod
    def from_header(cls, file: _ExportFile, header: list[str] | None) -> _CsvColumns:
        if not header:
            raise ExportError(file.name, "the file is empty: expected a CSV header", line=1)
        names = [name.strip().lower() for name in header]
        missing = [name for name in _CSV_COLUMNS if name not in names]
        if missing:
            raise ExportError(
                file.name,
                f"the CSV header lacks {', '.join(missing)}: found {','.join(header)!r}, "
                f"expected {','.join(_CSV_COLUMNS)}",
                line=1,
            )
        invalid = _invalid_utf8_problem(*header)
        if invalid:
            raise ExportError(file.name, invalid, line=1)
        index = {name: names.index(name) for name in _CSV_COLUMNS}
        return cls(width=len(names), **index)


def _read_csv_header(file: _ExportFile, reader: t.Any) -> _CsvColumns:
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise ExportError(file.name, f"malformed CSV header ({exc})", line=1) from exc
    except _ZIP_DAMAGE as exc:
        raise _damaged_member_error(file, 1, exc) from exc
    return _CsvColumns.from_header(file, header)


def _csv_row_problem(fields: list[str], columns: _CsvColumns) -> str | None:
    """Why a CSV row cannot be loaded; None if it can. The hot loop's slow path."""
    if len(fields) != columns.width:
        return (
            f"expected {columns.width} fields, found {len(fields)} "
            "(a stray comma, or a quote that is not closed?)"
        )
    invalid = _invalid_utf8_problem(*fields)
    if invalid:
        return invalid
    time_added = fields[columns.time_added]
    try:
        seconds = int(time_added)
    except ValueError:
        return _time_added_problem(time_added)
    if not _EARLIEST_TIMESTAMP <= seconds < _LATEST_TIMESTAMP:
        return _time_added_problem(time_added)
    status = fields[columns.status]
    if status not in _CSV_STATUSES:
        return f"unknown status {_shown(status)} (expected unread or archive)"
    if not normalise_url(fields[columns.url]):
        return "the url field is empty"
    return None


@dataclass
class _HtmlLink:
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
        self.links: list[_HtmlLink] = []
        self._heading_text: list[str] | None = None
        self._heading: str | None = None
        self._link: _HtmlLink | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "h1":
            self._heading_text = []
        elif tag == "a":
            self._finish_link()
            self._link = _HtmlLink(
                line=self.getpos()[0],
                heading=self._heading,
                attrs={name: value or "" for name, value in attrs},
            )

    def handle_endtag(self, tag: str) -> None:
        if tag == "h1" and self._heading_text is not None:
            self._heading = " ".join("".join(self._heading_text).split())
            self._heading_text = None
        elif tag == "a":
            self._finish_link()

    def handle_data(self, data: str) -> None:
        if self._link is not None:
            self._link.text.append(data)
        elif self._heading_text is not None:
            self._heading_text.append(data)

    def close(self) -> None:
        super().close()
        self._finish_link()

    def _finish_link(self) -> None:
        if self._link is not None:
            self.links.append(self._link)
            self._link = None


def _html_item(link: _HtmlLink) -> dict[str, t.Any] | str:
    """The ``items`` row of one ril_export.html link, or why there can be none."""
    status = _HTML_LIST_STATUSES.get((link.heading or "").lower())
    if status is None:
        where = f"under the heading {link.heading!r}" if link.heading else "before any list"
        return f"a link {where}: expected it in the Unread or Read Archive list"
    href = link.attrs.get("href", "")
    title = "".join(link.text)
    tags = link.attrs.get("tags", "")
    time_added = link.attrs.get("time_added")
    invalid = _invalid_utf8_problem(href, title, tags, time_added or "")
    if invalid:
        return invalid
    url = normalise_url(href)
    if not url:
        return "the link has no href (URL)"
    if time_added is None:
        return "the link has no time_added attribute"
    added = parse_timestamp(time_added)
    if added is None:
        return _time_added_problem(time_added)
    return {
        "item_id": "u" + _url_digest(url),
        "given_url": url,
        "given_title": _unescape_entities(title) if "&" in title else title,
        "status": status,
        "time_added": added,
        "time_updated": added,
        "tags": sorted(filter(None, (tag.strip() for tag in tags.split(",")))),
    }


def _highlight_row(entry: dict[str, t.Any], highlight: t.Any) -> dict[str, t.Any] | str:
    """The ``highlights`` row of one exported highlight, or why there can be none."""
    if not isinstance(highlight, dict):
        return f"a highlight must be a JSON object, found {_shown(highlight)}"
    quote = highlight.get("quote")
    if not isinstance(quote, str):
        return f"the highlight's quote must be text, found {_shown(quote)}"
    raw_time = highlight.get("created_at")
    created_at = None if isinstance(raw_time, bool) else parse_iso_or_epoch(raw_time)
    if created_at is None:
        return f"the highlight's created_at {_shown(raw_time)} is not a time"
    url = normalise_url(entry["url"])
    title = entry.get("title")
    if isinstance(title, str) and "&" in title:
        title = _unescape_entities(title)
    row = {
        "highlight_id": derive_highlight_id(url, quote, created_at),
        "item_id": "u" + _url_digest(url),
        "url": url,
        "title": title,
        "quote": quote,
        "created_at": created_at,
    }
    if not isinstance(title, str):
        del row["title"]
    return row


def _annotation_entry_problem(entry: t.Any) -> str | None:
    if not isinstance(entry, dict):
        return f"expected an object {{url, title, highlights}}, found {_shown(entry)}"
    url = entry.get("url")
    if not isinstance(url, str) or not normalise_url(url):
        return f"the entry's url must be a non-empty text, found {_shown(url)}"
    if not isinstance(entry.get("highlights"), list):
        return f"the entry's highlights must be a list, found {_shown(entry.get('highlights'))}"
    return None


# JSON ----------------------------------------------------------------------------------


def _read_json_text(file: _ExportFile) -> str:
    """A JSON file's text; invalid UTF-8 is reported with its line."""
    with file.open_binary() as binary:
        data = binary.read()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        shown = data[exc.start : exc.end].hex(" ")
        raise ExportError(file.name, f"invalid UTF-8 (bytes {shown})", line=line) from exc


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _json_syntax_error(file: _ExportFile, exc: json.JSONDecodeError, what: str) -> ExportError:
    return ExportError(
        file.name,
        f"is not valid JSON ({exc.msg} at column {exc.colno}); expected {what}",
        line=exc.lineno,
    )


def _skip_json_whitespace(text: str, position: int) -> int:
    match = _JSON_WHITESPACE.match(text, position)
    return match.end() if match else position


def _json_array_elements(
    file: _ExportFile, text: str, what: str
) -> Iterator[tuple[int, int, t.Any]]:
    """``(index, offset, value)`` for each element of the JSON array ``text``.

    Elements are decoded one by one so that a bad one can be reported with its line.
    """
    decoder = json.JSONDecoder()
    skip = _skip_json_whitespace
    position = skip(text, 0)
    if not text.startswith("[", position):
        raise ExportError(
            file.name, f"expected a JSON array of {what}", line=_line_of(text, position)
        )
    position = skip(text, position + 1)
    index = 0
    while not text.startswith("]", position):
        try:
            value, end = decoder.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            raise _json_syntax_error(file, exc, f"a JSON array of {what}") from exc
        yield index, position, value
        index += 1
        position = skip(text, end)
        if text.startswith(",", position):
            position = skip(text, position + 1)
        elif not text.startswith("]", position):
            raise ExportError(
                file.name,
                "is not valid JSON (expected ',' or ']' in the array)",
                line=_line_of(text, position),
            )
    if skip(text, position + 1) != len(text):
        raise ExportError(
            file.name,
            "is not valid JSON (text after the array's end)",
            line=_line_of(text, position + 1),
        )


def _api_dump_body(file: _ExportFile) -> dict[str, t.Any]:
    """A saved ``/v3/get`` response, with a bare array of list entries wrapped as one."""
    text = _read_json_text(file)
    try:
        body = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _json_syntax_error(file, exc, "a saved /v3/get response") from exc
    if isinstance(body, dict) and "list" in body:
        return body
    if isinstance(body, list) and all(
        isinstance(entry, dict) and "item_id" in entry for entry in body
    ):
        return {"list": body}
    if isinstance(body, list) and body and isinstance(body[0], dict) and "highlights" in body[0]:
        reason = (
            "this is an annotations file of a pocket.zip; set export_path to the zip or to "
            "the folder it unzips to"
        )
    else:
        reason = (
            "this JSON is not a Pocket export: expected a saved /v3/get response (an object "
            "with a 'list') or a JSON array of its list entries (objects with an item_id)"
        )
    raise ExportError(file.name, reason, line=1)


# The reader ----------------------------------------------------------------------------


class ExportReader:
    """Streams the ``items`` and ``highlights`` rows of a Pocket export.

    The constructor does no I/O (the tap builds one at discovery); each of :meth:`items`
    and :meth:`highlights` opens the export anew, so they can run in either order.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        skip_bad_rows: bool = False,
        logger: logging.Logger | None = None,
    ) -> None:
        self.path = Path(path).expanduser()
        self.skip_bad_rows = skip_bad_rows
        self.logger = logger or logging.getLogger(__name__)

    # Items -----------------------------------------------------------------------------

    def items(self) -> Iterator[dict[str, t.Any]]:
        """Every ``items`` row of the export, in file order; the first row of a URL wins."""
        kind = detect_kind(self.path)
        self.logger.info("Reading items from the Pocket export %s (%s)", self.path, kind.value)
        bad = _BadRows(self.skip_bad_rows, self.logger, "items")
        seen = _SeenIds(self.logger, "items")
        if kind is ExportKind.API_JSON:
            yield from self._api_dump_items(self._single_file())
        elif kind is ExportKind.CSV:
            yield from self._csv_items(self._single_file(), seen, bad)
        elif kind is ExportKind.HTML:
            yield from self._html_items(self._single_file(), seen, bad)
        else:
            yield from self._layout_items(kind, seen, bad)
        seen.summarise(str(self.path))
        bad.summarise(str(self.path))

    def _single_file(self) -> _ExportFile:
        path = self.path
        return _ExportFile(str(path), lambda: path.open("rb"))

    def _layout_items(
        self, kind: ExportKind, seen: _SeenIds, bad: _BadRows
    ) -> Iterator[dict[str, t.Any]]:
        with _LayoutContext(self.path, kind) as layout:
            if layout.csv_parts:
                if layout.html is not None:
                    self.logger.info(
                        "Ignoring %s: the CSV parts beside it hold the same items",
                        layout.html.name,
                    )
                for part in layout.csv_parts:
                    self.logger.info("Reading %s", part.name)
                    yield from self._csv_items(part, seen, bad)
            elif layout.html is not None:
                yield from self._html_items(layout.html, seen, bad)
            else:
                self.logger.warning("%s holds no items (no part_*.csv)", self.path)

    def _csv_items(
        self, file: _ExportFile, seen: _SeenIds, bad: _BadRows
    ) -> Iterator[dict[str, t.Any]]:
        """The rows of one CSV part.

        Kept as one loop over local names, with each check done by the cheapest operation
        that can fail; when one fails, the slow path (_csv_row_problem) says what is wrong.
        """
        statuses = _CSV_STATUSES
        day_prefixes, hours, minutes_seconds = UTC_DAY_PREFIXES, HOURS, MINUTES_SECONDS
        seen_keys = seen.keys
        decode_errors = _DECODE_ERRORS
        clean_count = decode_errors.count
        with file.open_text() as text:
            reader = csv.reader(text)
            columns = _read_csv_header(file, reader)
            width = columns.width
            title_at, url_at, time_at = columns.title, columns.url, columns.time_added
            tags_at, status_at = columns.tags, columns.status
            end_line = reader.line_num
            while True:
                try:
                    for fields in reader:
                        line = end_line + 1
                        end_line = reader.line_num
                        if len(fields) != width or decode_errors.count != clean_count:
                            if not fields:
                                continue  # a blank line holds no record
                            problem = _csv_row_problem(fields, columns)
                            if problem is not None:
                                bad.report(
                                    ExportError(file.name, problem, line=line, end_line=end_line)
                                )
                                continue
                        try:
                            seconds = int(fields[time_at])
                            status = statuses[fields[status_at]]
                        except (ValueError, KeyError):
                            seconds, status = 0, ""
                        url = fields[url_at]
                        if "&" in url:
                            url = _unescape_entities(url)
                        url = url.strip()
                        if not (
                            url and status and _EARLIEST_TIMESTAMP <= seconds < _LATEST_TIMESTAMP
                        ):
                            problem = _csv_row_problem(fields, columns) or "unreadable row"
                            bad.report(
                                ExportError(file.name, problem, line=line, end_line=end_line)
                            )
                            continue
                        digest = sha256(url.encode()).hexdigest()[:16]  # = _url_digest(url)
                        key = int(digest, 16)
                        if key in seen_keys:
                            seen.duplicate(f"{file.name}, line {line}", f"URL {url} again")
                            continue
                        seen_keys.add(key)
                        title = fields[title_at]
                        if "&" in title:
                            title = _unescape_entities(title)
                        tags_text = fields[tags_at]
                        if tags_text:
                            tags = sorted(tags_text.split("|"))
                            if not tags[0]:  # "a||b": sorting put the empty names first
                                tags = [tag for tag in tags if tag]
                        else:
                            tags = []
                        day, second_of_day = divmod(seconds, 86400)  # = unix_to_iso(seconds)
                        hour, second_of_hour = divmod(second_of_day, 3600)
                        added = day_prefixes[day] + hours[hour] + minutes_seconds[second_of_hour]
                        yield {
                            "item_id": "u" + digest,
                            "given_url": url,
                            "given_title": title,
                            "status": status,
                            "time_added": added,
                            "time_updated": added,
                            "tags": tags,
                        }
                    return
                except csv.Error as exc:
                    # The csv module resumes at the next line after a malformed record.
                    line, end_line = end_line + 1, reader.line_num
                    bad.report(
                        ExportError(
                            file.name, f"malformed CSV ({exc})", line=line, end_line=end_line
                        )
                    )
                except _ZIP_DAMAGE as exc:
                    raise _damaged_member_error(file, reader.line_num + 1, exc) from exc

    def _html_items(
        self, file: _ExportFile, seen: _SeenIds, bad: _BadRows
    ) -> Iterator[dict[str, t.Any]]:
        parser = _RilExportParser()
        with file.open_text() as text:
            while True:
                try:
                    chunk = text.read(_HTML_CHUNK_CHARS)
                except _ZIP_DAMAGE as exc:
                    raise _damaged_member_error(file, parser.getpos()[0], exc) from exc
                if chunk:
                    parser.feed(chunk)
                else:
                    parser.close()
                links, parser.links = parser.links, []
                for link in links:
                    row = _html_item(link)
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

    def _api_dump_items(self, file: _ExportFile) -> Iterator[dict[str, t.Any]]:
        body = _api_dump_body(file)
        # Stands in for the API path's Date header when a deletion notice has no time.
        observed_at = parse_timestamp(body.get("since"))
        for entry in list_entries(body):
            yield _without_nulls(item_record(entry, observed_at=observed_at))

    # Highlights ------------------------------------------------------------------------

    def highlights(self) -> Iterator[dict[str, t.Any]]:
        """Every ``highlights`` row: from ``annotations/part_*.json`` or an API dump."""
        kind = detect_kind(self.path)
        self.logger.info("Reading highlights from the Pocket export %s (%s)", self.path, kind.value)
        if kind is ExportKind.API_JSON:
            for entry in list_entries(_api_dump_body(self._single_file())):
                for row in highlight_records(entry):
                    yield _without_nulls(row)
            return
        if kind not in (ExportKind.ZIP, ExportKind.FOLDER):
            self.logger.info("%s has no highlights: only pocket.zip exports carry them", self.path)
            return
        bad = _BadRows(self.skip_bad_rows, self.logger, "highlights")
        seen = _SeenIds(self.logger, "highlights")
        with _LayoutContext(self.path, kind) as layout:
            if not layout.annotation_parts:
                self.logger.info("%s has no annotations/part_*.json: no highlights", self.path)
            for part in layout.annotation_parts:
                self.logger.info("Reading %s", part.name)
                yield from self._annotation_rows(part, seen, bad)
        seen.summarise(str(self.path))
        bad.summarise(str(self.path))

    def _annotation_rows(
        self, file: _ExportFile, seen: _SeenIds, bad: _BadRows
    ) -> Iterator[dict[str, t.Any]]:
        try:
            text = _read_json_text(file)
        except _ZIP_DAMAGE as exc:
            raise _damaged_member_error(file, None, exc) from exc
        what = "{url, title, highlights: [{quote, created_at}]} objects"
        for index, offset, entry in _json_array_elements(file, text, what):
            problem = _annotation_entry_problem(entry)
            if problem is not None:
                bad.report(
                    ExportError(
                        file.name, f"entry {index + 1}: {problem}", line=_line_of(text, offset)
                    )
                )
                continue
            for number, highlight in enumerate(entry["highlights"], start=1):
                row = _highlight_row(entry, highlight)
                if isinstance(row, str):
                    bad.report(
                        ExportError(
                            file.name,
                            f"entry {index + 1}, highlight {number}: {row}",
                            line=_line_of(text, offset),
                        )
                    )
                    continue
                key = int(row["highlight_id"][1:], 16)
                if key in seen.keys:
                    seen.duplicate(
                        f"{file.name}, line {_line_of(text, offset)}",
                        f"entry {index + 1}, highlight {number} repeats an earlier one",
                    )
                    continue
                seen.keys.add(key)
                yield row


def _without_nulls(row: dict[str, t.Any]) -> dict[str, t.Any]:
    return {key: value for key, value in row.items() if value is not None}


class _LayoutContext:
    """Opens a pocket.zip (or lists a folder) for as long as its files are read."""

    def __init__(self, path: Path, kind: ExportKind) -> None:
        self.path = path
        self.kind = kind
        self._archive: zipfile.ZipFile | None = None

    def __enter__(self) -> _Layout:
        if self.kind is ExportKind.FOLDER:
            layout = _folder_layout(self.path)
        else:
            self._archive = _open_zip(self.path)
            layout = _zip_layout(self._archive, str(self.path))
        if not (layout.csv_parts or layout.annotation_parts or layout.html):
            self.__exit__()
            raise ExportError(
                str(self.path),
                "holds no part_*.csv, annotations/part_*.json or ril_export.html: this is not "
                f"a Pocket export ({_EXPECTED})",
            )
        return layout

    def __exit__(self, *exc_info: object) -> None:
        if self._archive is not None:
            self._archive.close()
            self._archive = None
