"""CSV parts (``part_*.csv``, 2024-2025) to ``items`` rows.

Header ``title,url,time_added,tags,status`` (Oct 2024-Mar 2025:
``title,url,time_added,cursor,tags,status``); columns are found by name, others are
ignored. Each row gives ``item_id`` (:mod:`tap_pocket.export.ids`), ``given_url`` and
``given_title`` (the ``&amp;``-style entity references that leak into these CSVs
decoded), ``status`` (``unread``, or ``archived`` for ``archive``), ``time_added`` and
``time_updated`` (the same moment), and ``tags`` (``|``-separated, each trimmed, unique
and sorted). A part is streamed: memory stays flat at any size.

Broken input. The csv module reads in strict mode (a quote must close a field), fed by
:class:`_Lines`, which hands it physical lines of at most :data:`~.problems.RECORD_CAP`
characters and keeps the lines of the record being read. A record that cannot be read
(its quote never closes, text follows a closing quote, a field over
:data:`~.problems.FIELD_CAP`, a record over :data:`~.problems.RECORD_CAP`, the wrong
number of fields) loses only its first line: the lines after it are read again as
records of their own, so one stray quote does not swallow the rows after it. A record
that reads well but holds a bad value (time, status, URL, invalid UTF-8, NUL) is lost
whole.
"""

from __future__ import annotations

import csv
import functools
import itertools
import typing as t
from collections import deque
from dataclasses import dataclass

from tap_pocket.export.detect import CSV_COLUMNS, header_problem
from tap_pocket.export.ids import digest_bits, normalise_url, unescape_entities
from tap_pocket.export.layout import ZIP_DAMAGE, damaged_member_error
from tap_pocket.export.problems import (
    FIELD_CAP,
    RECORD_CAP,
    ExportError,
    shown,
    size_text,
    time_added_problem,
)
from tap_pocket.export.utf8 import DECODE_ERRORS, invalid_utf8_problem
from tap_pocket.timestamps import read_unix_time, unix_to_iso

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    from tap_pocket.export.layout import ExportFile
    from tap_pocket.export.problems import BadRows, RoundedTimes, SeenIds

#: Export status words to the ``items`` stream's status values.
_STATUSES = {"unread": "unread", "archive": "archived"}


class _Marker(str):
    """A string told apart by identity (a blank line read is never this object)."""

    __slots__ = ()


#: Stands for a line over the cap, where lines are read again (it is not kept).
_OVER_CAP = _Marker("\n")
_NOT_CLOSED = "a quote that is not closed?"
#: csv module errors, as users are told them.
_CSV_ERRORS = {
    "unexpected end of data": f"the file ends inside a quoted field ({_NOT_CLOSED})",
    "',' expected after '\"'": f"text after a closing quote (a stray quote, or {_NOT_CLOSED})",
    "field larger than field limit": (
        f"a field longer than the cap of {size_text(FIELD_CAP)} ({_NOT_CLOSED})"
    ),
    "line contains NUL": "a NUL character (byte 00): Pocket exports are text",
}


class _LineOverCap(Exception):  # noqa: N818 - a signal, not an error
    """A physical line longer than :data:`~.problems.RECORD_CAP` (skipped, not kept)."""


class _RecordOverCap(Exception):  # noqa: N818 - a signal, not an error
    """The record being read grew over :data:`~.problems.RECORD_CAP` at ``line``."""

    def __init__(self, line: str) -> None:
        super().__init__()
        self.line = line


class _Lines:
    """The physical lines of a CSV part, bounded and replayable.

    :meth:`source` gives the lines, replayed ones first, then each line read as it comes
    (at most :data:`~.problems.RECORD_CAP` + 1 characters: a longer line comes cut, and
    the reader tells it by its length). :meth:`continuation` hands the csv module a record
    that starts with a line and may take the lines after it: they are kept in
    :attr:`record`, which the reader clears after each record, and the record's size is
    capped. When a record turns out broken, its lines after the first are
    :meth:`replay`-ed, so reading goes on at the line after the record's first.
    """

    def __init__(self, text: t.TextIO) -> None:
        self.text = text
        self.record: list[str] = []
        self.pending: deque[str] = deque()

    def source(self) -> Iterator[str]:
        """The lines: replayed ones first, then those read, in C (no Python frame a line)."""
        read = iter(functools.partial(self.text.readline, RECORD_CAP + 1), "")
        return itertools.chain(self._replayed(), read) if self.pending else read

    def _replayed(self) -> Iterator[str]:
        pending = self.pending
        while pending:
            yield pending.popleft()

    def continuation(self, source: Iterator[str], first: str) -> Iterator[str]:
        """``first``, then the lines of ``source`` the csv module asks for, kept in the record.

        Raises on a line or a record over the cap.
        """
        record = self.record
        append = record.append
        append(first)
        size = len(first)  # not over the cap: the reader checked
        yield first
        for line in source:
            if line is _OVER_CAP:
                raise _LineOverCap
            size += len(line)
            if size > RECORD_CAP:
                if len(line) > RECORD_CAP:
                    self.skip_rest_of(line)
                    raise _LineOverCap
                raise _RecordOverCap(line)
            append(line)
            yield line

    def skip_rest_of(self, line: str) -> None:
        """Read past the end of an over-long line, a piece at a time."""
        while line and line[-1] not in "\r\n":
            line = self.text.readline(RECORD_CAP)

    def replay(self, lines: list[str]) -> None:
        """Read ``lines`` again before the lines not read yet; forget the record."""
        self.pending.extendleft(reversed(lines))
        self.record.clear()


@dataclass(frozen=True)
class _Columns:
    """Where each needed column sits in a CSV part, found by name in its header."""

    width: int
    title: int
    url: int
    time_added: int
    tags: int
    status: int

    @classmethod
    def from_header(cls, file: ExportFile, header: list[str] | None) -> _Columns:
        if not header:
            raise ExportError(file.name, "the file is empty: expected a CSV header", line=1)
        invalid = invalid_utf8_problem(*header)
        names = [name.strip().lower() for name in header]
        problem = header_problem(names) if invalid is None else invalid
        if problem:
            raise ExportError(file.name, problem, line=1)
        index = {name: names.index(name) for name in CSV_COLUMNS}
        return cls(width=len(names), **index)


def _read_header(file: ExportFile, lines: _Lines) -> tuple[_Columns, int]:
    """The columns, and the line after the header."""
    source = lines.source()
    try:
        first = next(source, None)
        if first is None:
            header = None
        elif len(first) > RECORD_CAP:
            raise _LineOverCap  # noqa: TRY301 - reported below with the csv module's errors
        else:
            reader = csv.reader(lines.continuation(source, first), strict=True)
            header = next(reader, None)
    except (csv.Error, _LineOverCap, _RecordOverCap) as exc:
        reason = _csv_problem(exc) if isinstance(exc, csv.Error) else "a line over the cap"
        raise ExportError(file.name, f"malformed CSV header: {reason}", line=1) from exc
    except ZIP_DAMAGE as exc:
        raise damaged_member_error(file, 1, exc) from exc
    lines.record.clear()
    return _Columns.from_header(file, header), (reader.line_num if header else 1) + 1


def _csv_problem(exc: csv.Error) -> str:
    message = str(exc)
    for start, problem in _CSV_ERRORS.items():
        if message.startswith(start):
            return problem
    return f"malformed CSV ({message})"


def _row_problem(fields: list[str], columns: _Columns) -> str | None:
    """Why a CSV row cannot be loaded; None if it can. The hot loop's slow path."""
    if len(fields) != columns.width:
        return _width_problem(fields, columns)
    invalid = invalid_utf8_problem(*fields)
    if invalid:
        return invalid
    problem = time_added_problem(fields[columns.time_added])
    if problem is not None:
        return problem
    status = fields[columns.status]
    if status not in _STATUSES:
        return f"unknown status {shown(status)} (expected unread or archive)"
    if not normalise_url(fields[columns.url]):
        return "the url field is empty"
    return None


def _width_problem(fields: list[str], columns: _Columns) -> str:
    return f"expected {columns.width} fields, found {len(fields)} (a stray comma, or {_NOT_CLOSED})"


def _tags(text: str) -> list[str]:
    """``|``-separated tag names: trimmed, each once, sorted; empty names dropped."""
    names = {tag.strip() for tag in text.split("|")}
    names.discard("")
    return sorted(names)


def csv_items(  # noqa: C901, PLR0912, PLR0915 - one loop on purpose, see the docstring
    file: ExportFile, seen: SeenIds, bad: BadRows, times: RoundedTimes
) -> Iterator[dict[str, t.Any]]:
    """The ``items`` rows of one CSV part, in file order, skipping ids in ``seen``.

    Kept as one loop over local names, with each check done by the cheapest operation
    that can fail; when one fails, the slow path (:func:`_row_problem`) says what is wrong.
    A function call per row would cost more than most of the loop's work. A line without
    a quote is one record whose fields are its text between commas: it is split as the
    csv module would read it, without its state machine; a line with a quote (or any
    line once invalid UTF-8 or a NUL has been met) starts a record the csv module reads,
    which may take the lines after it. A broken record restarts the loop at the line
    after its first (:class:`_Lines`).
    """
    statuses = _STATUSES
    to_iso = unix_to_iso
    url_bits = digest_bits
    from_bytes = int.from_bytes
    unescape = unescape_entities
    seen_keys = seen.keys
    decode_errors = DECODE_ERRORS
    clean_count = decode_errors.count
    csv.field_size_limit(FIELD_CAP)
    with file.open_text() as text:
        lines = _Lines(text)
        columns, start = _read_header(file, lines)  # start: where reading goes on
        width = columns.width
        title_at, url_at, time_at = columns.title, columns.url, columns.time_added
        tags_at, status_at = columns.tags, columns.status
        record = lines.record
        clear_record = record.clear
        over_cap = _OVER_CAP
        while True:
            source = lines.source()
            line = end_line = start - 1  # the first and last line of the record read last
            try:
                for raw in source:
                    line = end_line = end_line + 1
                    if len(raw) > RECORD_CAP or raw is over_cap:
                        if raw is not over_cap:
                            lines.skip_rest_of(raw)
                        too_long = f"a line longer than the cap of {size_text(RECORD_CAP)}"
                        bad.report(ExportError(file.name, too_long, line=line))
                        continue
                    # A field may reach FIELD_CAP only on a longer line (the csv module's cap).
                    if (
                        '"' not in raw
                        and len(raw) <= FIELD_CAP
                        and decode_errors.count == clean_count
                    ):
                        unquoted = raw.rstrip("\r\n")
                        fields = unquoted.split(",") if unquoted else []
                    else:
                        reader = csv.reader(lines.continuation(source, raw), strict=True)
                        fields = next(reader)
                        end_line += reader.line_num - 1
                    if len(fields) != width or decode_errors.count != clean_count:
                        if not fields:
                            clear_record()
                            continue  # a blank line holds no record
                        if len(fields) != width and end_line > line:
                            # A broken record: lose its first line, read the others again.
                            raise _Broken(_width_problem(fields, columns))  # noqa: TRY301
                        problem = _row_problem(fields, columns)
                        if problem is not None:
                            clear_record()
                            bad.report(
                                ExportError(file.name, problem, line=line, end_line=end_line)
                            )
                            continue
                    if record:
                        clear_record()
                    try:
                        added = to_iso(int(fields[time_at]))  # None outside 2000-2100
                        cut = False
                    except ValueError:  # 1600000000.0, 1.6e9, a fraction; or not a time
                        moment = read_unix_time(fields[time_at])
                        added, cut = moment.iso, moment.fraction_cut
                    try:
                        status = statuses[fields[status_at]]
                    except KeyError:
                        status = ""  # the slow path below says why
                    url = fields[url_at]
                    if "&" in url:
                        url = unescape(url)
                    url = url.strip()
                    if not (url and added and status):
                        problem = _row_problem(fields, columns) or "unreadable row"
                        bad.report(ExportError(file.name, problem, line=line, end_line=end_line))
                        continue
                    bits = url_bits(url)
                    key = from_bytes(bits, "big")
                    if key in seen_keys:
                        seen.duplicate(f"{file.name}, line {line}", f"URL {url} again")
                        continue
                    seen_keys.add(key)
                    if cut:
                        times.note(f"{file.name}, line {line}", fields[time_at], added)
                    title = fields[title_at]
                    if "&" in title:
                        title = unescape(title)
                    tags_text = fields[tags_at]
                    yield {
                        "item_id": "u" + bits.hex(),
                        "given_url": url,
                        "given_title": title,
                        "status": status,
                        "time_added": added,
                        "time_updated": added,
                        "tags": _tags(tags_text) if tags_text else [],
                    }
            except _Broken as broken:
                start = _resync(file, bad, lines, broken.problem, line)
            except csv.Error as exc:
                start = _resync(file, bad, lines, _csv_problem(exc), line)
            except _RecordOverCap as over:
                problem = f"a record over the cap of {size_text(RECORD_CAP)} ({_NOT_CLOSED})"
                record.append(over.line)
                start = _resync(file, bad, lines, problem, line)
            except _LineOverCap:  # the record being read runs into a line over the cap
                record.append(_OVER_CAP)
                problem = (
                    f"its record runs into line {line + len(record) - 1}, which is "
                    f"longer than the cap of {size_text(RECORD_CAP)}"
                )
                start = _resync(file, bad, lines, problem, line)
            except ZIP_DAMAGE as exc:
                raise damaged_member_error(file, line if record else end_line + 1, exc) from exc
            else:
                return


class _Broken(Exception):  # noqa: N818 - a signal, not an error
    """The record just read spans lines but has the wrong number of fields."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


def _resync(file: ExportFile, bad: BadRows, lines: _Lines, problem: str, first: int) -> int:
    """Report the broken record starting at line ``first``; its later lines are read again.

    Returns the line reading goes on at. Without ``skip_bad_rows`` the report raises.
    """
    last = first + len(lines.record) - 1
    error = ExportError(file.name, problem, line=first, end_line=max(first, last))
    again = lines.record[1:]
    lines.replay(again)
    note = f"; reading on from line {first + 1}" if again else ""
    bad.report(error, lines=1, note=note)
    return first + 1
