"""API dumps (saved ``/v3/get`` responses) to ``items`` and ``highlights`` rows.

A dump is a saved response (also karlicoss/pockexport's ``{account, list}``) or a JSON
array of its list entries. They are read by exactly the code of the live API path:
:func:`~tap_pocket.api.page.decode_page` decodes entries and highlights into
:class:`~tap_pocket.api.page.Page` values, and :func:`~tap_pocket.api.convert.entry_row`
builds each entry's row, tombstones included. A deletion notice without a timestamp is
stamped with the response's ``since`` (Pocket's clock when it answered), which stands in
for the API path's ``Date`` header as the page's ``server_time``. Rows hold only the
columns with a value (:mod:`tap_pocket.export.sparse`).

Before that, :func:`read_dump` looks at the top level only (an object's ``list`` and
``since``, or whether each element of an array has an ``item_id``; the entries are
skipped, not built) to tell a dump from JSON that is not one. JSON that does not decode
is read again by the standard library, to report the line at fault.

A dump up to :data:`~.problems.DUMP_CAP` is read whole and cut once (its entries are
decoded a part at a time, as a page's are). A larger one is memory-mapped: its whole JSON
is checked first (msgspec, in C, building nothing), then its ``list`` is cut into entries
(:func:`~tap_pocket.api.split.entry_spans`) and decoded :data:`BATCH_ENTRIES` at a time,
so memory stays that of a batch whatever the file's size. JSON nested too deeply for the
decoders is refused with a message rather than a RecursionError.

An entry that is not an item (see :class:`~tap_pocket.api.page.BadEntry`) is a bad row
with its file and line (:class:`~.problems.BadRows`: skipped with ``skip_bad_rows``).
"""

from __future__ import annotations

import codecs
import contextlib
import json
import mmap
import re
import typing as t
from datetime import datetime

import msgspec
from typing_extensions import Self

from tap_pocket.api.convert import entry_row
from tap_pocket.api.page import BadEntry, NotAPageError, Page, decode_page
from tap_pocket.api.split import entry_spans
from tap_pocket.export.detect import AN_ANNOTATIONS_FILE, NOT_AN_API_DUMP
from tap_pocket.export.json_text import json_syntax_error, json_text
from tap_pocket.export.problems import DUMP_CAP, BadRows, ExportError
from tap_pocket.export.sparse import sparse_record
from tap_pocket.timestamps import parse_timestamp

if t.TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

_WHAT = "a saved /v3/get response"
#: Entries decoded together when a large dump is read in batches, and the bytes that also
#: close a batch (one entry is never split).
BATCH_ENTRIES = 1000
BATCH_BYTES = 8 * 1024 * 1024


class _Response(msgspec.Struct):
    """A JSON object's top level: its ``list`` and ``since`` left undecoded."""

    listing: msgspec.Raw | msgspec.UnsetType = msgspec.field(name="list", default=msgspec.UNSET)
    since: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET


class _Entry(msgspec.Struct):
    """An array element's keys that say what it is, their values left undecoded."""

    item_id: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    highlights: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET


_TOP_LEVEL = msgspec.json.Decoder(_Response | list[_Entry])


class Dump:
    """A dump's entries as pages: the one page of a small dump, or a large one's batches."""

    def __init__(self, path: Path, page: Page | None, data: bytes = b"") -> None:
        self.path = path
        self._page = page
        self._data = data

    def pages(self) -> Iterator[Page]:
        """Every entry of the dump, in file order, in one page or in batches."""
        if self._page is not None:
            yield self._page
            return
        with _LargeDump(self.path) as large:
            yield from large.pages()

    @contextlib.contextmanager
    def lines(self) -> Iterator[_EntryLines]:
        """Where entries start in the file: asked in list order, read once up to the last asked."""
        if self._page is not None:
            yield _EntryLines(memoryview(self._data))
            return
        with (
            self.path.open("rb") as binary,
            mmap.mmap(binary.fileno(), 0, access=mmap.ACCESS_READ) as mapped,
        ):
            view = memoryview(mapped)
            try:
                yield _EntryLines(view[3:] if bytes(view[:3]) == codecs.BOM_UTF8 else view)
            finally:
                view.release()


def read_dump(path: Path) -> Dump:
    """The dump at ``path``; :class:`ExportError` if it is not a dump."""
    with path.open("rb") as binary:
        data = binary.read(DUMP_CAP + 1).removeprefix(codecs.BOM_UTF8)
    if len(data) > DUMP_CAP:
        with _LargeDump(path):  # checks its JSON and top level now, before any row
            return Dump(path, None)
    name = str(path)
    try:
        top = _TOP_LEVEL.decode(data)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise _diagnosis(name, data, exc) from exc
    except RecursionError as exc:
        raise _too_deep(name) from exc
    if isinstance(top, _Response):
        if top.listing is msgspec.UNSET:
            raise ExportError(name, NOT_AN_API_DUMP, line=1)
        content, since = data, _server_time(top.since)
    elif all(entry.item_id is not msgspec.UNSET for entry in top):
        content, since = b'{"list":' + data + b"}", None
    elif top and top[0].highlights is not msgspec.UNSET:
        raise ExportError(name, AN_ANNOTATIONS_FILE, line=1)
    else:
        raise ExportError(name, NOT_AN_API_DUMP, line=1)
    try:
        page = decode_page(content, server_time=since)
    except (NotAPageError, UnicodeDecodeError) as exc:
        raise _diagnosis(name, data, exc) from exc
    except RecursionError as exc:
        raise _too_deep(name) from exc
    return Dump(path, page, data)


class _EntryLines:
    """The lines of a dump's list entries, by position, read once in list order."""

    def __init__(self, view: memoryview) -> None:
        self._view = view
        self._spans: Iterator[tuple[int, int]] | None = None
        self._number = 0
        self._offset = 0
        self._line = 1

    def line(self, number: int) -> int:
        """The line where entry ``number`` (from 1) of the list starts."""
        if self._spans is None or number <= self._number:
            self._spans = entry_spans(self._view, _list_opening(self._view))
            self._number, self._offset, self._line = 0, 0, 1
        for start, _end in self._spans:
            self._number += 1
            if self._number == number:
                self._line += _newlines(self._view, self._offset, start)
                self._offset = start
                return self._line
        return self._line


def _list_opening(view: memoryview) -> int:
    """Where the dump's list opens: the top-level array, or the object's ``list`` member."""
    first = _FIRST_BYTE.search(view)
    if first is None or first.group() != b"{":
        return 0 if first is None else first.start()
    for start, end in entry_spans(view, first.start()):
        key = _KEY.match(view, start)
        if key is not None and msgspec.json.decode(key.group()) == "list":
            value = _FIRST_BYTE.search(view, key.end() + 1, end)  # past the colon
            if value is not None:
                return value.start()
    return first.start()


def _newlines(view: memoryview, start: int, end: int) -> int:
    """Line breaks from ``start`` to ``end``, counted a slice at a time (memory: a slice)."""
    chunk = 16 * 1024 * 1024
    return sum(bytes(view[i : min(i + chunk, end)]).count(b"\n") for i in range(start, end, chunk))


_FIRST_BYTE = re.compile(rb"\S")
#: A member's key: a JSON string, escapes included.
_KEY = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)


class _LargeDump:
    """A dump over :data:`DUMP_CAP`, memory-mapped; its JSON is checked on opening."""

    def __init__(self, path: Path) -> None:
        self.name = str(path)
        with path.open("rb") as binary:
            self._map = mmap.mmap(binary.fileno(), 0, access=mmap.ACCESS_READ)
        view = memoryview(self._map)
        self._view = view[3:] if bytes(view[:3]) == codecs.BOM_UTF8 else view
        try:
            self._list, self._keyed, self._since = self._top_level()
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the map (every view into it first)."""
        self._list = self._view = memoryview(b"")
        # A view still alive somewhere (BufferError): the map closes when it goes.
        with contextlib.suppress(BufferError):
            self._map.close()

    def _top_level(self) -> tuple[memoryview, bool, datetime | None]:
        first = _FIRST_BYTE.search(self._view)
        opening = None if first is None else first.group()
        try:
            if opening == b"{":
                top = msgspec.json.decode(self._view, type=_Response)
                if top.listing is msgspec.UNSET:
                    raise ExportError(self.name, NOT_AN_API_DUMP, line=1)
                listing = memoryview(top.listing)  # a view of the map, not a copy
                since = top.since
            elif opening == b"[":
                msgspec.json.decode(self._view, type=msgspec.Raw)  # the whole JSON, checked
                listing, since = self._view, msgspec.UNSET
            else:
                raise ExportError(self.name, NOT_AN_API_DUMP, line=1)
        except msgspec.ValidationError as exc:
            raise ExportError(self.name, f"{NOT_AN_API_DUMP} ({exc})", line=1) from exc
        except msgspec.DecodeError as exc:
            raise self._syntax_error(exc) from exc
        except RecursionError as exc:
            raise _too_deep(self.name) from exc
        start = _FIRST_BYTE.search(listing)
        if start is None or start.group() not in (b"{", b"["):
            raise ExportError(self.name, NOT_AN_API_DUMP, line=1)
        return listing, start.group() == b"{", _server_time(since)

    def _syntax_error(self, exc: msgspec.DecodeError) -> ExportError:
        """The decoder's message, its byte offset told as a line number."""
        at = re.search(r"\(byte (\d+)\)", str(exc))
        offset = int(at.group(1)) if at else len(self._view)
        line = 1 + _newlines(self._view, 0, offset)
        return ExportError(self.name, f"is not valid JSON ({exc}); expected {_WHAT}", line=line)

    def pages(self) -> Iterator[Page]:
        """The list's entries, :data:`BATCH_ENTRIES` (or :data:`BATCH_BYTES`) a page."""
        opening, closing = (b'{"list":{', b"}}") if self._keyed else (b'{"list":[', b"]}")
        batch: list[bytes] = []
        size = 0
        first_number = 1
        for start, end in entry_spans(self._list):
            batch.append(bytes(self._list[start:end]))
            size += end - start
            if len(batch) >= BATCH_ENTRIES or size >= BATCH_BYTES:
                yield self._decode(opening + b",".join(batch) + closing, first_number)
                first_number += len(batch)
                batch, size = [], 0
        if batch:
            yield self._decode(opening + b",".join(batch) + closing, first_number)

    def _decode(self, content: bytes, first_number: int) -> Page:
        try:
            return decode_page(content, server_time=self._since, first_number=first_number)
        except NotAPageError as exc:
            raise ExportError(self.name, f"is not {_WHAT}: {exc}") from exc
        except RecursionError as exc:
            raise _too_deep(self.name) from exc


def _too_deep(name: str) -> ExportError:
    return ExportError(
        name, f"is not a Pocket export: its JSON is nested too deeply to read; expected {_WHAT}"
    )


def dump_items(dump: Dump, bad: BadRows) -> Iterator[dict[str, t.Any]]:
    """The ``items`` rows of a dump, as the API path builds them; its bad rows to ``bad``."""
    with dump.lines() as lines:
        for page in dump.pages():
            observed_at = page.observed_at
            for part in page.parts():
                if isinstance(part, BadEntry):
                    line = lines.line(part.number)
                    bad.report(ExportError(str(dump.path), str(part), line=line))
                    continue
                for entry in part.entries:
                    yield sparse_record(entry_row(entry, observed_at=observed_at))


def dump_highlights(dump: Dump) -> Iterator[dict[str, t.Any]]:
    """The ``highlights`` rows of a dump, as the API path builds them.

    An entry that is not an item has none (its bad row is the ``items`` stream's).
    """
    for page in dump.pages():
        for part in page.parts(with_highlights=True):
            if not isinstance(part, BadEntry):
                for highlight in part.highlights:
                    yield sparse_record(highlight)


def _server_time(since: msgspec.Raw | msgspec.UnsetType) -> datetime | None:
    """A dump's ``since`` (unix seconds) as the answer's server time, if it is one."""
    if since is msgspec.UNSET or len(since) > 64:  # noqa: PLR2004 - a number or a string
        return None
    try:
        moment = parse_timestamp(msgspec.json.decode(since))
    except msgspec.DecodeError:  # a number past what Python reads
        return None
    return None if moment is None else datetime.fromisoformat(moment)


def _diagnosis(name: str, data: bytes, exc: Exception) -> ExportError:
    """Why a dump that msgspec could not decode is not one, with the line at fault."""
    text = json_text(name, data)  # raises for invalid UTF-8
    try:
        body = json.loads(text)
    except json.JSONDecodeError as error:
        return json_syntax_error(name, error, _WHAT)
    except RecursionError:
        return _too_deep(name)
    except ValueError as error:  # a number too long to read
        return ExportError(name, f"is not valid JSON ({error}); expected {_WHAT}", line=1)
    if isinstance(body, list):  # of values that are not all objects
        annotations = body and isinstance(body[0], dict) and "highlights" in body[0]
        return ExportError(name, AN_ANNOTATIONS_FILE if annotations else NOT_AN_API_DUMP, line=1)
    return ExportError(name, f"is not valid JSON ({exc}); expected {_WHAT}", line=1)
