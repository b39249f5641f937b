"""What ``export_path`` holds, or why it is not a Pocket export.

The kind is decided from the content, not the name (a zip is a zip whatever its name):
:func:`detect_kind` sniffs the first 64 KiB for a zip's magic bytes, a JSON ``{`` or
``[`` (an API dump, whose structure is checked when it is read), ril_export.html's list
headings, or a CSV header with ``title,url,time_added``. A directory is taken as an
unzipped pocket.zip.
"""

from __future__ import annotations

import codecs
import csv
import enum
import errno
import re
import stat
import typing as t
from pathlib import Path

from tap_pocket.export.problems import ExportError

if t.TYPE_CHECKING:
    import os

#: What users are told an export is, in every "not an export" error.
EXPECTED = (
    "expected pocket.zip, the folder it unzips to, a part_*.csv (header "
    "title,url,time_added,tags,status), ril_export.html, or a saved /v3/get JSON response"
)
#: A pocket.zip or folder with none of the files of an export.
NO_EXPORT_FILES = (
    "holds no part_*.csv, annotations/part_*.json or ril_export.html: this is not "
    f"a Pocket export ({EXPECTED})"
)
#: JSON that is an annotations part of a pocket.zip rather than an API dump.
AN_ANNOTATIONS_FILE = (
    "this is an annotations file of a pocket.zip; set export_path to the zip or to "
    "the folder it unzips to"
)
#: JSON that is neither a saved ``/v3/get`` response nor an array of its entries.
NOT_AN_API_DUMP = (
    "this JSON is not a Pocket export: expected a saved /v3/get response (an object "
    "with a 'list') or a JSON array of its list entries (objects with an item_id)"
)

NOT_FOUND = "not found"
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a local file header; an empty zip
_SNIFF_BYTES = 64 * 1024
_HTML_LIST_HEADING = re.compile(rb"<h1>\s*(unread|read archive)\s*</h1>", re.IGNORECASE)
_HTML_LISTS = 2  # Unread and Read Archive
_LINE_BREAK = re.compile(rb"\r\n?|\n")
_CSV_DETECT_COLUMNS = frozenset({"title", "url", "time_added"})
#: The columns the CSV reader needs; others (such as ``cursor``) are ignored.
CSV_COLUMNS = ("title", "url", "time_added", "tags", "status")
_KNOWN_COLUMNS = frozenset({*CSV_COLUMNS, "cursor"})
_COLUMN_NAME = re.compile(r"[\w .-]{1,40}")
_SHOWN_COLUMNS = 20


class ExportKind(str, enum.Enum):
    """What :func:`detect_kind` found at ``export_path``."""

    ZIP = "zip"  # pocket.zip
    FOLDER = "folder"  # an unzipped pocket.zip
    CSV = "csv"  # one part_*.csv
    HTML = "html"  # the legacy ril_export.html
    API_JSON = "api_json"  # a saved /v3/get response or an array of its list entries


def detect_kind(path: str | os.PathLike[str]) -> ExportKind:
    """Decide what ``path`` holds from its content (a zip is a zip whatever its name).

    A JSON file is only sniffed here (it starts with ``{`` or ``[``); its structure is
    checked when it is read. Raises :class:`ExportError` for anything else.
    """
    path = Path(path).expanduser()
    if path.is_dir():
        return ExportKind.FOLDER
    problem = not_a_regular_file(path)
    if problem == NOT_FOUND:
        raise ExportError(
            str(path),
            f"not found: the export_path setting must point to your Pocket export ({EXPECTED})",
        )
    if problem is not None:
        raise ExportError(
            str(path), f"{problem}; the export_path setting must name your Pocket export"
        )
    try:
        with path.open("rb") as file:
            head = file.read(_SNIFF_BYTES)
    except OSError as exc:
        raise ExportError(str(path), f"cannot be read: {exc.strerror or exc}") from exc
    kind = _kind_of_content(head)
    if kind is None:
        raise ExportError(str(path), _not_an_export_reason(head))
    return kind


def not_a_regular_file(path: Path) -> str | None:
    """Why ``path`` cannot be read as a file (no open, so a FIFO never blocks); None if it can."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "is a symbolic link loop (a link that leads back to itself), not a file"
        if path.is_symlink():
            return f"is a symbolic link to {path.readlink()}, which does not exist"
        if exc.errno == errno.ENOENT:
            return NOT_FOUND
        return f"cannot be read: {exc.strerror or exc}"
    if stat.S_ISREG(mode):
        return None
    kind = (
        "a FIFO (named pipe)"
        if stat.S_ISFIFO(mode)
        else "a socket"
        if stat.S_ISSOCK(mode)
        else "a device"
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
        else "a special file"
    )
    return f"is {kind}, not a file"


def _kind_of_content(head: bytes) -> ExportKind | None:
    if head.startswith(_ZIP_MAGIC):
        return ExportKind.ZIP
    text = head.removeprefix(codecs.BOM_UTF8).lstrip()
    if text[:1] in (b"{", b"["):
        return ExportKind.API_JSON
    headings = {match.lower() for match in _HTML_LIST_HEADING.findall(head)}
    if headings and (b"time_added=" in head or len(headings) == _HTML_LISTS):
        return ExportKind.HTML
    if set(_csv_header_names(head)) >= _CSV_DETECT_COLUMNS:
        return ExportKind.CSV
    return None


def _csv_header_names(head: bytes) -> list[str]:
    """The names of a CSV's first line, which ends at LF, CR or CRLF as the reader reads it."""
    first_line = _LINE_BREAK.split(head.removeprefix(codecs.BOM_UTF8), maxsplit=1)[0]
    text = first_line.decode("utf-8", "replace")
    try:
        header = next(csv.reader([text]), [])
    except csv.Error:
        return []
    return [name.strip().lower() for name in header]


def _not_an_export_reason(head: bytes) -> str:
    if not head:
        return f"the file is empty; {EXPECTED}"
    names = _csv_header_names(head)
    if len(_KNOWN_COLUMNS.intersection(names)) >= 2:  # noqa: PLR2004 - a CSV meant as an export
        return f"this is not a Pocket export: {header_problem(names)}; {EXPECTED}"
    return f"this is not a Pocket export: {EXPECTED}"


def header_problem(names: list[str], needed: t.Sequence[str] = CSV_COLUMNS) -> str | None:
    """What a CSV header (lower-cased names) lacks, or None.

    The names found are shown only when they look like column names and include a known
    one, never text such as the first line of some other file (a key, a password file).
    """
    missing = [name for name in needed if name not in names]
    if not missing:
        return None
    looks_like_a_header = (
        len(names) <= _SHOWN_COLUMNS
        and bool(_KNOWN_COLUMNS.intersection(names))
        and all(_COLUMN_NAME.fullmatch(name) for name in names)
    )
    found = (
        f"found the columns {','.join(names)}"
        if looks_like_a_header
        else "its first line is not a header of column names"
    )
    return f"the CSV header lacks {', '.join(missing)} ({found}; expected {','.join(needed)})"
