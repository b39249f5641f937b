"""A pocket.zip's ``annotations/part_*.json`` to ``highlights`` rows.

Each part is a JSON array of ``{url, title, highlights: [{quote, created_at}]}``
entries (``created_at`` in epoch seconds). A highlight's row joins to its item by the
URL-derived ``item_id`` and gets a ``highlight_id`` derived from URL, quote and time
(:mod:`tap_pocket.export.ids`); ``patch`` and ``annotation_version`` exist only in the
API and stay null.

A part is streamed entry by entry (:func:`~.json_text.json_array_elements`): an entry over
its cap or nested too deep, a quote over :data:`~.problems.FIELD_CAP`, and a
``created_at`` that is not a finite time (NaN, Infinity, ``1e400``) are bad rows.
"""

from __future__ import annotations

import math
import typing as t

from tap_pocket.export.ids import derive_highlight_id, digest, normalise_url, unescape_entities
from tap_pocket.export.json_text import ElementProblem, json_array_elements
from tap_pocket.export.layout import ZIP_DAMAGE, damaged_member_error
from tap_pocket.export.problems import FIELD_CAP, ExportError, shown, size_text
from tap_pocket.export.sparse import sparse_record
from tap_pocket.rows import Highlight
from tap_pocket.timestamps import parse_iso_or_epoch

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    from tap_pocket.export.layout import ExportFile
    from tap_pocket.export.problems import BadRows, SeenIds

_WHAT = "{url, title, highlights: [{quote, created_at}]} objects"


def _entry_problem(entry: t.Any) -> str | None:
    if isinstance(entry, ElementProblem):
        return f"the entry is {entry.reason}"
    if not isinstance(entry, dict):
        return f"expected an object {{url, title, highlights}}, found {shown(entry)}"
    url = entry.get("url")
    if not isinstance(url, str) or not normalise_url(url):
        return f"the entry's url must be a non-empty text, found {shown(url)}"
    if len(url) > FIELD_CAP:
        return f"the entry's url is longer than the cap of {size_text(FIELD_CAP)}"
    if not isinstance(entry.get("highlights"), list):
        return f"the entry's highlights must be a list, found {shown(entry.get('highlights'))}"
    return None


def _highlight(entry: dict[str, t.Any], highlight: t.Any) -> Highlight | str:
    """The row of one highlight of a (checked) entry, or why there can be none."""
    if not isinstance(highlight, dict):
        return f"a highlight must be a JSON object, found {shown(highlight)}"
    quote = highlight.get("quote")
    if not isinstance(quote, str):
        return f"the highlight's quote must be text, found {shown(quote)}"
    if len(quote) > FIELD_CAP:
        return f"the highlight's quote is longer than the cap of {size_text(FIELD_CAP)}"
    raw_time = highlight.get("created_at")
    unreadable = isinstance(raw_time, bool) or (
        isinstance(raw_time, float) and not math.isfinite(raw_time)
    )
    created_at = None if unreadable else parse_iso_or_epoch(raw_time)
    if created_at is None:
        return f"the highlight's created_at {shown(raw_time)} is not a time"
    url = normalise_url(entry["url"])
    title = entry.get("title")
    if isinstance(title, str):
        title = unescape_entities(title) if "&" in title else title
    else:
        title = None
    return Highlight(
        highlight_id=derive_highlight_id(url, quote, created_at),
        item_id="u" + digest(url),
        url=url,
        title=title,
        quote=quote,
        created_at=created_at,
    )


def annotation_highlights(
    file: ExportFile, seen: SeenIds, bad: BadRows
) -> Iterator[dict[str, t.Any]]:
    """The ``highlights`` rows of one annotations part, skipping ids in ``seen``."""
    try:
        with file.open_binary() as binary:
            yield from _highlights(file, binary, seen, bad)
    except ZIP_DAMAGE as exc:
        raise damaged_member_error(file, None, exc) from exc


def _highlights(
    file: ExportFile, binary: t.IO[bytes], seen: SeenIds, bad: BadRows
) -> Iterator[dict[str, t.Any]]:
    for index, line, entry in json_array_elements(file.name, binary, _WHAT):
        problem = _entry_problem(entry)
        if problem is not None:
            bad.report(ExportError(file.name, f"entry {index + 1}: {problem}", line=line))
            continue
        for number, highlight in enumerate(entry["highlights"], start=1):
            row = _highlight(entry, highlight)
            if isinstance(row, str):
                where = f"entry {index + 1}, highlight {number}"
                bad.report(ExportError(file.name, f"{where}: {row}", line=line))
                continue
            key = int(row.highlight_id[1:], 16)
            if key in seen.keys:
                seen.duplicate(
                    f"{file.name}, line {line}",
                    f"entry {index + 1}, highlight {number} repeats an earlier one",
                )
                continue
            seen.keys.add(key)
            yield sparse_record(row)
