"""CSV parts (``part_*.csv``, 2024-2025) to ``items`` rows.

Header ``title,url,time_added,tags,status`` (Oct 2024-Mar 2025:
``title,url,time_added,cursor,tags,status``); columns are found by name, others are
ignored. Each row gives ``item_id`` (:mod:`tap_pocket.export.ids`), ``given_url`` and
``given_title`` (the ``&amp;``-style entity references that leak into these CSVs
decoded), ``status`` (``unread``, or ``archived`` for ``archive``), ``time_added`` and
``time_updated`` (the same moment), and ``tags`` (``|``-separated, sorted). A part is
streamed: memory stays flat at any size.
"""

from __future__ import annotations

import csv
import typing as t
from dataclasses import dataclass

from tap_pocket.export.ids import digest, normalise_url, unescape_entities
from tap_pocket.export.layout import ZIP_DAMAGE, damaged_member_error
from tap_pocket.export.problems import ExportError, shown, time_added_problem
from tap_pocket.export.utf8 import DECODE_ERRORS, invalid_utf8_problem
from tap_pocket.timestamps import unix_to_iso

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    from tap_pocket.export.layout import ExportFile
    from tap_pocket.export.problems import BadRows, SeenIds

#: Export status words to the ``items`` stream's status values.
_STATUSES = {"unread": "unread", "archive": "archived"}
#: Columns the reader needs; others (such as ``cursor``) are ignored.
_COLUMNS = ("title", "url", "time_added", "tags", "status")


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
        names = [name.strip().lower() for name in header]
        missing = [name for name in _COLUMNS if name not in names]
        if missing:
            raise ExportError(
                file.name,
                f"the CSV header lacks {', '.join(missing)}: found {','.join(header)!r}, "
                f"expected {','.join(_COLUMNS)}",
                line=1,
            )
        invalid = invalid_utf8_problem(*header)
        if invalid:
            raise ExportError(file.name, invalid, line=1)
        index = {name: names.index(name) for name in _COLUMNS}
        return cls(width=len(names), **index)


def _read_header(file: ExportFile, reader: t.Any) -> _Columns:
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise ExportError(file.name, f"malformed CSV header ({exc})", line=1) from exc
    except ZIP_DAMAGE as exc:
        raise damaged_member_error(file, 1, exc) from exc
    return _Columns.from_header(file, header)


def _row_problem(fields: list[str], columns: _Columns) -> str | None:
    """Why a CSV row cannot be loaded; None if it can. The hot loop's slow path."""
    if len(fields) != columns.width:
        return (
            f"expected {columns.width} fields, found {len(fields)} "
            "(a stray comma, or a quote that is not closed?)"
        )
    invalid = invalid_utf8_problem(*fields)
    if invalid:
        return invalid
    time_added = fields[columns.time_added]
    if _moment(time_added) is None:
        return time_added_problem(time_added)
    status = fields[columns.status]
    if status not in _STATUSES:
        return f"unknown status {shown(status)} (expected unread or archive)"
    if not normalise_url(fields[columns.url]):
        return "the url field is empty"
    return None


def _moment(time_added: str) -> str | None:
    """A ``time_added`` field as ISO 8601, or None (see :func:`time_added_problem`)."""
    try:
        return unix_to_iso(int(time_added))
    except ValueError:
        return None


def csv_items(  # noqa: C901, PLR0912, PLR0915 - one loop on purpose, see the docstring
    file: ExportFile, seen: SeenIds, bad: BadRows
) -> Iterator[dict[str, t.Any]]:
    """The ``items`` rows of one CSV part, in file order, skipping ids in ``seen``.

    Kept as one loop over local names, with each check done by the cheapest operation
    that can fail; when one fails, the slow path (:func:`_row_problem`) says what is wrong.
    A function call per row would cost more than most of the loop's work.
    """
    statuses = _STATUSES
    to_iso = unix_to_iso
    url_digest = digest
    unescape = unescape_entities
    seen_keys = seen.keys
    decode_errors = DECODE_ERRORS
    clean_count = decode_errors.count
    with file.open_text() as text:
        reader = csv.reader(text)
        columns = _read_header(file, reader)
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
                        problem = _row_problem(fields, columns)
                        if problem is not None:
                            bad.report(
                                ExportError(file.name, problem, line=line, end_line=end_line)
                            )
                            continue
                    try:
                        added = to_iso(int(fields[time_at]))  # None outside 2000-2100
                        status = statuses[fields[status_at]]
                    except (ValueError, KeyError):
                        added, status = None, ""  # the slow path below says why
                    url = fields[url_at]
                    if "&" in url:
                        url = unescape(url)
                    url = url.strip()
                    if not (url and added):
                        problem = _row_problem(fields, columns) or "unreadable row"
                        bad.report(ExportError(file.name, problem, line=line, end_line=end_line))
                        continue
                    url_hash = url_digest(url)
                    key = int(url_hash, 16)
                    if key in seen_keys:
                        seen.duplicate(f"{file.name}, line {line}", f"URL {url} again")
                        continue
                    seen_keys.add(key)
                    title = fields[title_at]
                    if "&" in title:
                        title = unescape(title)
                    tags_text = fields[tags_at]
                    if tags_text:
                        tags = sorted(tags_text.split("|"))
                        if not tags[0]:  # "a||b": sorting put the empty names first
                            tags = [tag for tag in tags if tag]
                    else:
                        tags = []
                    yield {
                        "item_id": "u" + url_hash,
                        "given_url": url,
                        "given_title": title,
                        "status": status,
                        "time_added": added,
                        "time_updated": added,
                        "tags": tags,
                    }
            except csv.Error as exc:
                # The csv module resumes at the next line after a malformed record.
                line, end_line = end_line + 1, reader.line_num
                bad.report(
                    ExportError(file.name, f"malformed CSV ({exc})", line=line, end_line=end_line)
                )
            except ZIP_DAMAGE as exc:
                raise damaged_member_error(file, reader.line_num + 1, exc) from exc
            else:
                return
