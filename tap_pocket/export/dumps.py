"""API dumps (saved ``/v3/get`` responses) to ``items`` and ``highlights`` rows.

A dump is a saved response (also karlicoss/pockexport's ``{account, list}``) or a JSON
array of its list entries. They are read by exactly the code of the live API path:
:func:`~tap_pocket.api.page.decode_page` decodes a dump into one
:class:`~tap_pocket.api.page.Page`, entries and highlights at once, and
:func:`~tap_pocket.api.convert.entry_row` builds each entry's row, tombstones included.
A deletion notice without a timestamp is stamped with the response's ``since`` (Pocket's
clock when it answered), which stands in for the API path's ``Date`` header as the page's
``server_time``. Rows hold only the columns with a value
(:mod:`tap_pocket.export.sparse`).

Before that, :func:`read_dump` looks at the top level only (an object's ``list`` and
``since``, or whether each element of an array has an ``item_id``; the entries are
skipped, not built) to tell a dump from JSON that is not one. JSON that does not decode
is read again by the standard library, to report the line at fault.

A dump is decoded whole, so its size is capped (:data:`~.problems.DUMP_CAP`; its decoded
rows take about three times its size in memory), and JSON nested too deeply for the
decoders is refused with a message rather than a RecursionError.
"""

from __future__ import annotations

import codecs
import json
import typing as t
from datetime import datetime

import msgspec

from tap_pocket.api.convert import entry_row
from tap_pocket.api.page import NotAPageError, Page, decode_page
from tap_pocket.export.detect import AN_ANNOTATIONS_FILE, NOT_AN_API_DUMP
from tap_pocket.export.json_text import json_syntax_error, json_text
from tap_pocket.export.problems import DUMP_CAP, ExportError, size_text
from tap_pocket.export.sparse import sparse_record
from tap_pocket.timestamps import parse_timestamp

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    from tap_pocket.export.layout import ExportFile

_WHAT = "a saved /v3/get response"


class _Response(msgspec.Struct):
    """A JSON object's top level: its ``list`` left undecoded, and its ``since``."""

    listing: msgspec.Raw | msgspec.UnsetType = msgspec.field(name="list", default=msgspec.UNSET)
    since: t.Any = None


class _Entry(msgspec.Struct):
    """An array element's keys that say what it is, their values left undecoded."""

    item_id: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    highlights: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET


_TOP_LEVEL = msgspec.json.Decoder(_Response | list[_Entry])


def read_dump(file: ExportFile) -> Page:
    """The dump ``file`` as one page; :class:`ExportError` if it is not a dump."""
    with file.open_binary() as binary:
        data = binary.read(DUMP_CAP + 1).removeprefix(codecs.BOM_UTF8)
    if len(data) > DUMP_CAP:
        raise ExportError(
            file.name,
            f"this API dump is over the cap of {size_text(DUMP_CAP)} (it is decoded whole): "
            "save the /v3/get responses in smaller pages (count, offset) and load each",
        )
    try:
        top = _TOP_LEVEL.decode(data)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise _diagnosis(file.name, data, exc) from exc
    except RecursionError as exc:
        raise _too_deep(file.name) from exc
    if isinstance(top, _Response):
        if top.listing is msgspec.UNSET:
            raise ExportError(file.name, NOT_AN_API_DUMP, line=1)
        content, since = data, top.since
    elif all(entry.item_id is not msgspec.UNSET for entry in top):
        content, since = b'{"list":' + data + b"}", None
    elif top and top[0].highlights is not msgspec.UNSET:
        raise ExportError(file.name, AN_ANNOTATIONS_FILE, line=1)
    else:
        raise ExportError(file.name, NOT_AN_API_DUMP, line=1)
    try:
        return decode_page(content, server_time=_server_time(since), with_highlights=True)
    except (NotAPageError, UnicodeDecodeError) as exc:
        raise _diagnosis(file.name, data, exc) from exc
    except RecursionError as exc:
        raise _too_deep(file.name) from exc


def _too_deep(name: str) -> ExportError:
    return ExportError(
        name, f"is not a Pocket export: its JSON is nested too deeply to read; expected {_WHAT}"
    )


def dump_items(page: Page) -> Iterator[dict[str, t.Any]]:
    """The ``items`` rows of a dump, as the API path builds them."""
    observed_at = page.observed_at
    for entry in page.entries:
        yield sparse_record(entry_row(entry, observed_at=observed_at))


def dump_highlights(page: Page) -> Iterator[dict[str, t.Any]]:
    """The ``highlights`` rows of a dump, as the API path builds them."""
    for highlight in page.highlights:
        yield sparse_record(highlight)


def _server_time(since: t.Any) -> datetime | None:
    """A dump's ``since`` (unix seconds) as the answer's server time."""
    moment = parse_timestamp(since)
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
