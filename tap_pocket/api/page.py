"""One ``/v3/get`` answer: checked whole, then its entries read a part at a time.

:func:`decode_page` checks that a body is a page (JSON throughout, with a ``list``
object or array) and cuts its list into entries without building them
(:mod:`~tap_pocket.api.split`); :meth:`Page.parts` decodes them :data:`PART_ENTRIES` (or
:data:`PART_BYTES`) at a time as they are read. A page in memory is its body and the cut,
and one part while it is read, whatever the body holds: a body packed with millions of
tiny entries costs about what its bytes do (answer sizes are capped by the client).

Each entry is decoded on its own (:func:`~tap_pocket.api.convert.decode_entry`). One
that is not an item comes out as a :class:`BadEntry` in its place among the parts: one
bad row, the page's other entries still load.
"""

from __future__ import annotations

import codecs
import typing as t
from dataclasses import dataclass

import msgspec
from typing_extensions import override

from tap_pocket.api.convert import EntryError, decode_entry, entry_highlights, item_id_text
from tap_pocket.api.split import Entry, index, segment_entries, segments
from tap_pocket.scalars import parse_int

if t.TYPE_CHECKING:
    from collections.abc import Iterator
    from datetime import datetime

    from tap_pocket.rows import Highlight

#: Entries decoded together, and the bytes of entries that also end a part.
PART_ENTRIES = 1000
PART_BYTES = 4 << 20
#: Ids of a page kept to compare it with the next (the most a page is asked for is 5000).
MAX_IDS = 10_000


class _Body(msgspec.Struct, gc=False):
    """A body's top level: its ``list`` left undecoded, and its ``total``."""

    listing: msgspec.Raw | msgspec.UnsetType = msgspec.field(name="list", default=msgspec.UNSET)
    total: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET


_BODY = msgspec.json.Decoder(_Body)


class _Id(msgspec.Struct, gc=False):
    """An entry's ``item_id``, undecoded (its other members are skipped)."""

    item_id: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET


_ID = msgspec.json.Decoder(_Id)


class NotAPageError(ValueError):
    """The body is not a ``/v3/get`` answer.

    Not JSON (cut off, say); JSON that is not an object; or an object without a ``list``
    object or array (an answer without it would end a sync early, as if the list were done).
    """


@dataclass(frozen=True)
class BadEntry:
    """A list entry that is not an item: where it is and why (one bad row)."""

    #: The offset of its page, and its position in the page's list (from 1).
    offset: int
    number: int
    key: str | None
    reason: str

    @override
    def __str__(self) -> str:
        key = "" if self.key is None else f" (key {_short(self.key)})"
        return f"list entry {self.number}{key}: {self.reason}"


@dataclass(frozen=True)
class Part:
    """Consecutive items of one page, decoded; ``offset`` is the page's."""

    offset: int
    entries: list[t.Any]  # PocketEntry structs
    highlights: list[Highlight]


class Page:
    """One ``/v3/get`` answer: its offset, entry count, first ids, total and server time.

    ``offset`` is the offset it was asked for; ``server_time`` is Pocket's clock when it
    answered (the ``Date`` header, or the dump's ``since``), which stamps deletion notices
    that carry no time of their own. The entries are read through :meth:`parts`.
    """

    def __init__(
        self,
        offset: int,
        *,
        cut: _Cut,
        total: int | None = None,
        server_time: datetime | None = None,
        first_number: int = 1,
    ) -> None:
        self.offset = offset
        self.total = total
        self.server_time = server_time
        self._cut = cut
        self._first_number = first_number
        #: How many entries the list holds, bad ones included.
        self.count = cut.count
        #: The ids of its first :data:`MAX_IDS` entries.
        self.ids = cut.ids()

    @property
    def next_offset(self) -> int:
        """Where the next page starts: Pocket's offsets count the entries it returned."""
        return self.offset + self.count

    @property
    def observed_at(self) -> str | None:
        """``server_time`` as ISO 8601 text: what stamps a deletion notice without a time."""
        return None if self.server_time is None else self.server_time.isoformat()

    def parts(self, *, with_highlights: bool = False) -> Iterator[Part | BadEntry]:
        """The entries in list order: items a :class:`Part` at a time, each bad one alone."""
        entries: list[t.Any] = []
        size = 0
        number = self._first_number - 1
        for key, text in self._cut.entries():
            number += 1
            try:
                entry = decode_entry(text, key)
            except EntryError as exc:
                if entries:
                    yield self._part(entries, with_highlights=with_highlights)
                    entries, size = [], 0
                yield BadEntry(self.offset, number, key, str(exc))
                continue
            entries.append(entry)
            size += len(text)
            if len(entries) >= PART_ENTRIES or size >= PART_BYTES:
                yield self._part(entries, with_highlights=with_highlights)
                entries, size = [], 0
        if entries:
            yield self._part(entries, with_highlights=with_highlights)

    def _part(self, entries: list[t.Any], *, with_highlights: bool) -> Part:
        highlights = (
            [row for entry in entries if entry.annotations for row in entry_highlights(entry)]
            if with_highlights
            else []
        )
        return Part(self.offset, entries, highlights)


class _Cut:
    """A list cut into entries: all at once (few entries), or in runs (any number)."""

    def __init__(self, listing: msgspec.Raw, objects_in_body: int) -> None:
        self._listing = listing
        self._indexed = index(listing, objects_in_body)
        if self._indexed is not None:
            self._runs: list[tuple[int, int]] = []
            self.count = len(self._indexed)
        else:
            self._runs, self.count = segments(memoryview(listing))
        self._keyed = bytes(memoryview(listing)[:1]) == b"{"

    def entries(self) -> Iterator[Entry]:
        """Every entry, in list order."""
        if self._indexed is not None:
            yield from self._indexed
            return
        view = memoryview(self._listing)
        for run in self._runs:
            yield from segment_entries(view, run, keyed=self._keyed)

    def ids(self) -> frozenset[str]:
        """The ids of the first :data:`MAX_IDS` entries that have one."""
        ids: set[str] = set()
        for seen, (key, text) in enumerate(self.entries()):
            if seen >= MAX_IDS:
                break
            item_id = entry_id(text, key)
            if item_id is not None:
                ids.add(item_id)
        return frozenset(ids)


def entry_id(text: msgspec.Raw, key: str | None) -> str | None:
    """An entry's id as :func:`decode_entry` reads it, without decoding the entry; or None."""
    try:
        raw = _ID.decode(text).item_id
        value = key if raw is msgspec.UNSET else msgspec.json.decode(raw)
        return item_id_text(value)
    except (msgspec.DecodeError, EntryError, RecursionError):
        return None


def decode_page(
    content: bytes | bytearray,
    *,
    offset: int = 0,
    server_time: datetime | None = None,
    first_number: int = 1,
) -> Page:
    """A ``/v3/get`` body as a :class:`Page`, its entries not yet decoded.

    Raises :class:`NotAPageError` for a body that is not a page (see there).
    ``first_number``: the list position of its first entry (a dump read in batches).
    """
    try:
        body = _BODY.decode(content)
    except msgspec.ValidationError as exc:
        raise NotAPageError("JSON that is not an object") from exc
    except (msgspec.DecodeError, RecursionError) as exc:
        raise NotAPageError(str(exc) or type(exc).__name__) from exc
    listing = body.listing
    if listing is msgspec.UNSET or bytes(memoryview(listing)[:1]) not in (b"{", b"["):
        raise NotAPageError(_NO_LIST)
    _check_text(listing)
    try:
        cut = _Cut(listing, content.count(b"{"))
    except (msgspec.DecodeError, RecursionError) as exc:  # a key \ud800 msgspec refuses
        raise NotAPageError(str(exc) or type(exc).__name__) from exc
    return Page(
        offset,
        cut=cut,
        total=_total(body.total),
        server_time=server_time,
        first_number=first_number,
    )


_NO_LIST = "a JSON object without a `list` object or array"


def _check_text(listing: msgspec.Raw) -> None:
    """Raise :class:`NotAPageError` unless the list is UTF-8 text throughout.

    Checked here, a slice at a time: the cut only checks the JSON's syntax, and keys that
    are read later, a run at a time, must not fail then.
    """
    view = memoryview(listing)
    decoder = codecs.getincrementaldecoder("utf-8")()
    slice_size = 1 << 20
    start = 0
    try:
        for start in range(0, len(view), slice_size):
            end = start + slice_size
            decoder.decode(view[start:end], final=end >= len(view))
    except UnicodeDecodeError as exc:
        msg = f"its list is not UTF-8 text (near byte {start + exc.start} of the list)"
        raise NotAPageError(msg) from exc


def _total(raw: msgspec.Raw | msgspec.UnsetType) -> int | None:
    if raw is msgspec.UNSET:
        return None
    try:
        return parse_int(msgspec.json.decode(raw))
    except msgspec.DecodeError:  # a number past what Python reads
        return None


def _short(text: str, limit: int = 40) -> str:
    shown = repr(text)
    return shown if len(shown) <= limit else shown[: limit - 4] + "…" + shown[-3:]
