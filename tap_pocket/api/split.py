"""A page's ``list`` cut into its entries without building them, whatever it holds.

Two ways, one result: the entries of the list in order, each as its JSON text (a
``msgspec.Raw`` view of the body) with its key when the list is an object.

* :func:`cut` cuts the list in C, building an object per entry (about 200 bytes), so it
  is used only when :func:`probe` found the entries few: each is a JSON object, and the
  body holds at most :data:`INDEXED_OBJECTS` objects (an entry is at least one ``{``).
  Nothing of it is kept: it is cut again each time the page is read.
* :func:`segments` walks the list's JSON tokens and keeps only where each run of
  :data:`SEGMENT_ENTRIES` entries (or :data:`SEGMENT_BYTES`) starts and ends; each run is
  cut in C when it is read (:func:`segment_entries`). Memory stays that of a run, however
  many entries the list holds (a server can pack 4.5 million ``"1":{}`` into 72 MB).

:func:`entry_spans` gives where each entry lies instead: what cuts a file too large to
read whole, and names the line of an entry.
"""

from __future__ import annotations

import re
import typing as t

import msgspec

if t.TYPE_CHECKING:
    from collections.abc import Iterator

#: Objects in a body up to which its list is cut in C.
INDEXED_OBJECTS = 100_000
#: Entries, and bytes, of one run of :func:`segments`.
SEGMENT_ENTRIES = 1000
SEGMENT_BYTES = 1 << 20

#: An entry: its key (None in an array) and its JSON text.
Entry = tuple[str | None, msgspec.Raw]

#: A JSON string (escapes included), or one structural character: what :func:`entry_spans`
#: steps through; numbers, literals and spaces are passed over by the expression, in C.
_TOKENS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[{}\[\],]', re.DOTALL)
_QUOTE, _COMMA = ord('"'), ord(",")
_OPENING, _CLOSING = frozenset(b"{["), frozenset(b"}]")
_SPACES = frozenset(b" \t\r\n")


class _Id(msgspec.Struct, gc=False):
    """An entry's ``item_id``, undecoded; its other members are skipped."""

    item_id: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET


_ID = msgspec.json.Decoder(_Id)
_PROBE = msgspec.json.Decoder(dict[str, _Id] | list[_Id])
_SPLIT = msgspec.json.Decoder(dict[str, msgspec.Raw] | list[msgspec.Raw])


def probe(
    listing: msgspec.Raw | bytes, objects_in_body: int
) -> list[tuple[str | None, msgspec.Raw | msgspec.UnsetType]] | None:
    """Each entry's key and undecoded ``item_id``, or None when they may be too many.

    None when the body holds more than :data:`INDEXED_OBJECTS` objects, or when an entry
    is not an object (then nothing bounds their number but the body's size).
    """
    if objects_in_body > INDEXED_OBJECTS:
        return None
    try:
        probed = _PROBE.decode(listing)
    except msgspec.ValidationError:
        return None
    if isinstance(probed, dict):
        return [(key, entry.item_id) for key, entry in probed.items()]
    return [(None, entry.item_id) for entry in probed]


def item_id_of(text: msgspec.Raw) -> msgspec.Raw | msgspec.UnsetType:
    """One entry's ``item_id``, undecoded (UNSET when it has none or is not an object)."""
    try:
        return _ID.decode(text).item_id
    except msgspec.DecodeError:
        return msgspec.UNSET


def cut(listing: msgspec.Raw | bytes) -> list[Entry]:
    """The entries of a list, cut in C (only when :func:`probe` found them few)."""
    split = _SPLIT.decode(listing)
    if isinstance(split, dict):
        return list(split.items())
    return [(None, raw) for raw in split]


def segments(listing: memoryview) -> tuple[list[tuple[int, int]], int]:
    """Runs of whole entries of ``listing`` (byte ranges inside it), and how many entries.

    ``listing`` is an object or array already checked to be valid JSON.
    """
    runs: list[tuple[int, int]] = []
    count = 0
    run_start = run_end = -1
    in_run = 0
    for start, end in entry_spans(listing):
        count += 1
        if in_run and (in_run >= SEGMENT_ENTRIES or end - run_start > SEGMENT_BYTES):
            runs.append((run_start, run_end))
            in_run = 0
        if not in_run:
            run_start = start
        run_end = end
        in_run += 1
    if in_run:
        runs.append((run_start, run_end))
    return runs, count


def segment_entries(listing: memoryview, run: tuple[int, int], *, keyed: bool) -> list[Entry]:
    """The entries of one run of :func:`segments`, cut in C."""
    start, end = run
    opening, closing = (b"{", b"}") if keyed else (b"[", b"]")
    return cut(opening + bytes(listing[start:end]) + closing)


def entry_spans(view: memoryview, opening: int = 0) -> Iterator[tuple[int, int]]:
    """(start, end) of each entry of the container whose ``{`` or ``[`` is at ``opening``.

    An entry's text is what lies between two commas (or a bracket) at depth one, less the
    spaces around it: an object's entry starts at its key. ``view`` must be valid JSON
    from ``opening`` on.
    """
    depth = 0
    begin = opening
    for token in _TOKENS.finditer(view, opening):
        first = view[token.start()]
        if first == _QUOTE:
            continue
        if first in _OPENING:
            depth += 1
            if depth == 1:
                begin = token.end()
            continue
        if first in _CLOSING:
            depth -= 1
            if depth:
                continue
        elif depth != 1:
            continue  # a comma inside an entry
        span = _stripped(view, begin, token.start())
        if span is not None:
            yield span
        if not depth:
            return
        begin = token.end()


def _stripped(view: memoryview, start: int, end: int) -> tuple[int, int] | None:
    """``(start, end)`` without JSON's spaces around; None if nothing is left."""
    while start < end and view[start] in _SPACES:
        start += 1
    while end > start and view[end - 1] in _SPACES:
        end -= 1
    return (start, end) if start < end else None
