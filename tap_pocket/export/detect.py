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
import re
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

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a local file header; an empty zip
_SNIFF_BYTES = 64 * 1024
_HTML_LIST_HEADING = re.compile(rb"<h1>\s*(unread|read archive)\s*</h1>", re.IGNORECASE)
_HTML_LISTS = 2  # Unread and Read Archive
_CSV_DETECT_COLUMNS = frozenset({"title", "url", "time_added"})


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
    if not path.exists():
        raise ExportError(
            str(path),
            f"not found: the export_path setting must point to your Pocket export ({EXPECTED})",
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
    first_line = head.removeprefix(codecs.BOM_UTF8).split(b"\n", 1)[0]
    text = first_line.decode("utf-8", "replace")
    try:
        header = next(csv.reader([text]), [])
    except csv.Error:
        return []
    return [name.strip().lower() for name in header]


def _not_an_export_reason(head: bytes) -> str:
    if not head:
        return f"the file is empty; {EXPECTED}"
    return f"this is not a Pocket export: {EXPECTED}"
