"""One ``/v3/get`` answer as one value: its entries, total, server time and offset.

:func:`decode_page` decodes a body in one of two ways, with the same result:

* **Whole**, straight into typed :data:`~tap_pocket.api.convert.PocketEntry` structs, as
  long as what that can build is bounded by :data:`DECODED_MAX`
  (:func:`decoded_size_bound`, from counts of the body's bytes taken in C). Real pages are
  read this way, in one pass.
* **A part at a time** otherwise, or when an entry holds a value the typed decoder
  rejects: the body is kept, its list is cut into entries without building them
  (:mod:`~tap_pocket.api.split`), and :meth:`Page.parts` decodes each entry on its own
  as the page is read (:func:`~tap_pocket.api.convert.decode_entry`). A page in memory
  is then its body and one part, whatever the body holds: millions of tiny entries cost
  about what their bytes do.

Either way an entry that is not an item comes out as a :class:`BadEntry` in its place
among the parts: one bad row, the page's other entries still load.
"""

from __future__ import annotations

import codecs
import typing as t
from dataclasses import dataclass

import msgspec
from typing_extensions import override

from tap_pocket.api.convert import (
    EntryError,
    PocketEntry,
    decode_entry,
    entry_highlights,
    identified,
    item_id_text,
)
from tap_pocket.api.split import cut, item_id_of, probe, segment_entries, segments
from tap_pocket.scalars import parse_int

if t.TYPE_CHECKING:
    from collections.abc import Iterator
    from datetime import datetime

    from tap_pocket.rows import Highlight

#: Entries of one part, and the bytes of entries that also end a part (read a part at a time).
PART_ENTRIES = 1000
PART_BYTES = 1 << 20
#: Ids of a page kept to compare it with the next (the most a page is asked for is 5000).
MAX_IDS = 10_000
#: The most memory a page decoded whole may take, as :func:`decoded_size_bound` counts it.
DECODED_MAX = 96 << 20

#: A list entry: its key (None in an array), and the entry decoded or its JSON text.
_Item = tuple[str | None, t.Any]


class _Body(msgspec.Struct, gc=False):
    """A body's top level: its ``list`` left undecoded, and its ``total``."""

    listing: msgspec.Raw | msgspec.UnsetType = msgspec.field(name="list", default=msgspec.UNSET)
    total: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET


_BODY = msgspec.json.Decoder(_Body)

_Typed = msgspec.defstruct(
    "_Typed",
    [
        (
            "listing",
            dict[str, PocketEntry] | list[PocketEntry],  # type: ignore[valid-type]
            msgspec.field(name="list"),
        ),
        ("total", t.Any, None),
    ],
    gc=False,
)
#: strict=False: Pocket's numbers are strings ("1588"), read as integers here.
_TYPED = msgspec.json.Decoder(_Typed, strict=False)


class NotAPageError(ValueError):
    """The body is not a ``/v3/get`` answer.

    Not JSON (cut off, say); JSON that is not an object; an object without a ``list``
    object or array (an answer without it would end a sync early, as if the list were
    done); or a list that is not UTF-8 text.
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
        source: _Decoded | _Cut,
        *,
        total: int | None = None,
        server_time: datetime | None = None,
        first_number: int = 1,
    ) -> None:
        self.offset = offset
        self.total = total
        self.server_time = server_time
        self._source = source
        self._first_number = first_number
        #: How many entries the list holds, bad ones included.
        self.count = source.count
        #: The ids of its first :data:`MAX_IDS` entries.
        self.ids = source.ids

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
        for key, value in self._source.items():
            number += 1
            try:
                if isinstance(value, msgspec.Raw):
                    entry = decode_entry(value, key)
                    size += len(value)
                else:
                    entry = identified(value, key)
            except EntryError as exc:
                if entries:
                    yield self._part(entries, with_highlights=with_highlights)
                    entries, size = [], 0
                yield BadEntry(self.offset, number, key, str(exc))
                continue
            entries.append(entry)
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


class _Decoded:
    """A list decoded whole: its typed entries, with their keys."""

    def __init__(self, listing: dict[str, t.Any] | list[t.Any]) -> None:
        self._items: list[_Item] = (
            list(listing.items())
            if isinstance(listing, dict)
            else [(None, entry) for entry in listing]
        )
        self.count = len(self._items)
        ids: set[str] = set()
        for key, entry in self._items[:MAX_IDS]:
            item_id = key if entry.item_id is msgspec.UNSET else entry.item_id
            if item_id is not None:
                ids.add(item_id)
        self.ids = frozenset(ids)

    def items(self) -> Iterator[_Item]:
        """Every entry, in list order."""
        return iter(self._items)


class _Cut:
    """A list kept as its text, cut into entries each time it is read.

    All at once (in C) when its entries are few, else in runs (:mod:`.split`): nothing
    per entry is kept between two reads.
    """

    def __init__(self, listing: msgspec.Raw, objects_in_body: int) -> None:
        self._listing = listing
        self._keyed = bytes(memoryview(listing)[:1]) == b"{"
        probed = probe(listing, objects_in_body)
        self._runs: list[tuple[int, int]] | None = None
        if probed is not None:
            self.count = len(probed)
            self.ids = _ids(probed[:MAX_IDS])
        else:
            self._runs, self.count = segments(memoryview(listing))
            self.ids = _ids((key, item_id_of(text)) for key, text in _first(self.items()))

    def items(self) -> Iterator[_Item]:
        """Every entry, as its text, in list order."""
        if self._runs is None:
            yield from cut(self._listing)
            return
        view = memoryview(self._listing)
        for run in self._runs:
            yield from segment_entries(view, run, keyed=self._keyed)


def _first(items: Iterator[_Item]) -> Iterator[_Item]:
    for seen, item in enumerate(items):
        if seen >= MAX_IDS:
            return
        yield item


def _ids(pairs: t.Iterable[tuple[str | None, msgspec.Raw | msgspec.UnsetType]]) -> frozenset[str]:
    """The ids of entries given their keys and undecoded ``item_id``, as the rows get them."""
    return frozenset(filter(None, (_id(key, raw) for key, raw in pairs)))


def _id(key: str | None, raw: msgspec.Raw | msgspec.UnsetType) -> str | None:
    try:
        return item_id_text(key if raw is msgspec.UNSET else msgspec.json.decode(raw))
    except (msgspec.DecodeError, EntryError):
        return None


def decode_page(
    content: bytes | bytearray,
    *,
    offset: int = 0,
    server_time: datetime | None = None,
    first_number: int = 1,
) -> Page:
    """A ``/v3/get`` body as a :class:`Page`.

    Raises :class:`NotAPageError` for a body that is not a page (see there).
    ``first_number``: the list position of its first entry (a dump read in batches).
    """
    if decoded_size_bound(content) <= DECODED_MAX:
        whole = decode_whole(content)
        if whole is not None:
            entries, total = whole
            return Page(
                offset,
                _Decoded(entries),
                total=parse_int(total),
                server_time=server_time,
                first_number=first_number,
            )
    try:
        body = _BODY.decode(content)
    except msgspec.ValidationError as exc:
        raise NotAPageError("JSON that is not an object") from exc
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise NotAPageError(str(exc) or type(exc).__name__) from exc
    listing = body.listing
    if listing is msgspec.UNSET or bytes(memoryview(listing)[:1]) not in (b"{", b"["):
        raise NotAPageError(_NO_LIST)
    _check_text(listing)
    try:
        source = _Cut(listing, content.count(b"{"))
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:  # a key \ud800
        raise NotAPageError(str(exc) or type(exc).__name__) from exc
    return Page(
        offset,
        source,
        total=_total(body.total),
        server_time=server_time,
        first_number=first_number,
    )


def decode_whole(content: bytes | bytearray) -> tuple[dict[str, t.Any] | list[t.Any], t.Any] | None:
    """A body's list decoded whole into typed entries, and its raw ``total``; or None.

    None when it is not a page, or when some entry holds a value outside what the typed
    decoder reads (the cut then says which).
    """
    try:
        typed = _TYPED.decode(content)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return None
    return typed.listing, typed.total  # type: ignore[attr-defined]


_NO_LIST = "a JSON object without a `list` object or array"


def decoded_size_bound(content: bytes | bytearray) -> int:
    """At most how many bytes decoding ``content`` whole builds, from counts taken in C.

    Every JSON value decoded is an object (a ``{``; a typed entry is the largest, about
    400 bytes), an array (a ``[``) or a value after a comma (a dict item with its key
    string is the largest, about 150 bytes); its text is at most four times its UTF-8 bytes
    in Python (a string with one character outside the BMP holds four bytes for each).
    tests/test_fuzz_pages.py measures the shapes that come nearest.
    """
    return (
        450 * content.count(b"{")
        + 96 * content.count(b"[")
        + 150 * content.count(b",")
        + 4 * len(content)
    )


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
