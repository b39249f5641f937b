"""One ``/v3/get`` answer as one value: its entries, total, server time and offset."""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field

import msgspec

from tap_pocket.api.convert import PocketEntry, entry_highlights, lenient_entry, list_entries
from tap_pocket.scalars import parse_int

if t.TYPE_CHECKING:
    from datetime import datetime

    from tap_pocket.rows import Highlight

_Body = msgspec.defstruct(
    "_Body",
    [
        (
            "entries",
            dict[str, PocketEntry] | list[PocketEntry] | msgspec.UnsetType,  # type: ignore[valid-type]
            msgspec.field(name="list", default=msgspec.UNSET),
        ),
        ("total", t.Any, None),
    ],
    gc=False,
)
#: strict=False: Pocket's numbers are strings ("1588"), read as integers here.
_DECODER = msgspec.json.Decoder(_Body, strict=False)


class NotAPageError(ValueError):
    """The body is not a ``/v3/get`` answer.

    Not JSON; JSON that is not an object; an object without a ``list`` object or array
    (an answer without it would end a sync early, as if the list were done); or a list
    entry that is not an object or has no usable ``item_id`` (text or an integer).
    """


@dataclass(frozen=True)
class Page:
    """One ``/v3/get`` answer, decoded once.

    ``offset`` is the offset it was asked for; ``server_time`` is Pocket's clock when it
    answered (the ``Date`` header, or the dump's ``since``), which stamps deletion
    notices that carry no time of their own.
    """

    offset: int
    entries: list[t.Any]  # PocketEntry structs
    total: int | None = None
    server_time: datetime | None = None
    highlights: list[Highlight] = field(default_factory=list)

    @property
    def next_offset(self) -> int:
        """Where the next page starts: Pocket's offsets count the entries it returned."""
        return self.offset + len(self.entries)

    @property
    def observed_at(self) -> str | None:
        """``server_time`` as ISO 8601 text: what stamps a deletion notice without a time."""
        return None if self.server_time is None else self.server_time.isoformat()


def decode_page(
    content: bytes,
    *,
    offset: int = 0,
    server_time: datetime | None = None,
    with_highlights: bool = False,
) -> Page:
    """A ``/v3/get`` body as a :class:`Page`.

    The body decodes straight into typed entries; one holding a value the typed decoder
    rejects is decoded as plain JSON and read entry by entry, leniently (the same rows).
    Raises :class:`NotAPageError` for a body that is not a page (see there).
    """
    typed = decode_typed(content)
    if typed is None:
        plain = _decode_plain(content)
        _check_entries(plain.get("list"))
        entries = [lenient_entry(raw) for raw in list_entries(plain)]
        total = plain.get("total")
    else:
        entries, total = typed
    highlights = (
        [row for entry in entries if entry.annotations for row in entry_highlights(entry)]
        if with_highlights
        else []
    )
    return Page(offset, entries, parse_int(total), server_time, highlights)


def decode_typed(content: bytes) -> tuple[list[t.Any], t.Any] | None:
    """A body's entries (typed) and raw ``total``, or None.

    None when some value is outside what the typed decoder reads. Raises
    :class:`NotAPageError` for malformed JSON.
    """
    try:
        body = _DECODER.decode(content)
    except msgspec.ValidationError:
        return None
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise NotAPageError(str(exc)) from exc
    listing = body.entries  # type: ignore[attr-defined]
    if listing is msgspec.UNSET:
        raise NotAPageError(_NO_LIST)
    entries = list(listing.values()) if isinstance(listing, dict) else listing
    return entries, body.total  # type: ignore[attr-defined]


_NO_LIST = "a JSON object without a `list` object or array"


def _check_entries(listing: t.Any) -> None:
    """Raise :class:`NotAPageError` unless every entry of ``listing`` is one with an id."""
    if isinstance(listing, dict):
        pairs = list(listing.items())
    elif isinstance(listing, list):
        pairs = [(None, entry) for entry in listing]
    else:
        raise NotAPageError(_NO_LIST)
    for number, (key, entry) in enumerate(pairs, start=1):
        where = f"list entry {number}" if key is None else f"list entry {key!r}"
        if not isinstance(entry, dict):
            msg = f"{where} is not an object"
            raise NotAPageError(msg)
        item_id = entry.get("item_id", key)
        if isinstance(item_id, bool) or not isinstance(item_id, (str, int)):
            msg = f"{where} has no item_id that is text or an integer"
            raise NotAPageError(msg)


def _decode_plain(content: bytes) -> dict[str, t.Any]:
    try:
        body = msgspec.json.decode(content)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise NotAPageError(str(exc)) from exc
    if not isinstance(body, dict):
        msg = "JSON that is not an object"
        raise NotAPageError(msg)
    return body
