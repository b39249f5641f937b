"""Pocket's ``/v3/get`` list entries as rows.

Pocket sends nearly every scalar as a string, marks unset timestamps with ``"0"``, keys
tags by name and authors/images/videos by id, and omits optional fields. A page decodes
straight into :data:`PocketEntry` structs (msgspec, in C, reading ``"1588"`` as 1588),
whose fields are derived from the :class:`~tap_pocket.rows.Item` columns' marks; a page
holding a value that decoding would reject (a title sent as a number, say) is read entry
by entry through :func:`lenient_entry`, which coerces each value the way the typed decoder
reads it. Either way one builder, :func:`entry_row`, makes the row.

Each entry is decoded on its own (:func:`decode_entry`), so one odd entry is read
leniently without the others, and an entry that is not an item (not an object, without a
usable ``item_id``, larger than :data:`ENTRY_CAP`) raises :class:`EntryError`: one bad
row, the others still load.

These functions serve the live API path and API dumps read from disk alike.
"""

from __future__ import annotations

import functools
import json
import typing as t

import msgspec

from tap_pocket.rows import Highlight, Item, Read, Status, column_marks
from tap_pocket.scalars import parse_int, parse_text
from tap_pocket.timestamps import parse_iso_or_epoch, unix_to_iso

STATUS_NAMES = {"0": "unread", "1": "archived", "2": "deleted", "3": "hidden"}
#: Statuses that mean the item is gone from the user's list: emitted as tombstones.
TOMBSTONE_STATUSES = frozenset({"deleted", "hidden"})

_NUMBER_READS = frozenset({Read.INTEGER, Read.FLAG, Read.MOMENT, Read.HAS_MEDIA})
_TEXT_READS = frozenset({Read.TEXT, Read.TEXT_OR_NULL, Read.STATUS})


class _Tag(msgspec.Struct, gc=False):
    tag: str | msgspec.UnsetType = msgspec.UNSET


def _list_item_type(column: str) -> type[msgspec.Struct]:
    """The struct of an id-keyed column's objects (``Author`` for ``authors``, …)."""
    hint = t.get_type_hints(Item)[column]
    (listing,) = [arg for arg in t.get_args(hint) if t.get_origin(arg) is list]
    (struct,) = t.get_args(listing)
    return t.cast("type[msgspec.Struct]", struct)


def _object_type(column: str) -> type[msgspec.Struct]:
    """The struct of an object column (``Image`` for ``image``, …)."""
    hint = t.get_type_hints(Item)[column]
    (struct,) = [arg for arg in t.get_args(hint) if arg is not type(None)]
    return t.cast("type[msgspec.Struct]", struct)


def _entry_field_type(column: str, read: Read) -> t.Any:
    """How the typed decoder takes a column's entry field."""
    if read in _TEXT_READS:
        return str if column == "item_id" else str | None
    if read in _NUMBER_READS:
        return int | None
    if read is Read.TAGS:
        return dict[str, _Tag] | list[t.Any] | None
    if read is Read.ID_KEYED:
        struct = _list_item_type(column)
        return dict[str, struct] | list[struct] | None  # type: ignore[valid-type]
    return t.Any  # OBJECT: read by the builder from whatever JSON came


_MARKS = column_marks(Item)
#: The entry fields the rows are read from (each column's own field, in column order),
#: and the annotations that feed ``highlights``.
ENTRY_FIELDS: tuple[str, ...] = (
    *(
        column
        for column, mark in _MARKS.items()
        if mark.field is None and mark.read is not Read.NOT_READ
    ),
    "annotations",
)

#: One ``/v3/get`` list entry, typed: the fields the rows are read from. An entry of a
#: list keyed by id may leave its ``item_id`` out: the key is its id then.
PocketEntry = msgspec.defstruct(
    "PocketEntry",
    [
        ("item_id", str | msgspec.UnsetType, msgspec.UNSET),
        *((name, _entry_field_type(name, _MARKS[name].read), None) for name in ENTRY_FIELDS[1:-1]),
        ("annotations", t.Any, None),
    ],
    gc=False,
    module=__name__,
)


# The builder ---------------------------------------------------------------------------


def _key_order(key: str) -> tuple[int, int, str, str]:
    """Digit keys in numeric order (compared as text: a key may be longer than int() reads)."""
    if key.isascii() and key.isdigit():
        number = key.lstrip("0")
        return (0, len(number), number, key)
    return (1, 0, "", key)


def _id_keyed(value: t.Any) -> list[t.Any]:
    """Pocket's ``{"1": {...}, "2": {...}}`` maps (or a list) as a list, in key order."""
    if not value:
        return []
    if isinstance(value, dict):
        if len(value) == 1:
            return list(value.values())
        return [value[key] for key in sorted(value, key=_key_order)]
    return list(value)


def _tag_name(name: str, tag: t.Any) -> str:
    if isinstance(tag, _Tag):
        return name if tag.tag is msgspec.UNSET else tag.tag
    if isinstance(tag, dict):
        return str(tag.get("tag", name))
    return str(name)


def _tags(value: t.Any) -> list[str]:
    """Tags keyed by name ``{name: {item_id, tag}}`` (or a list) to sorted, unique names.

    A list can name a tag twice (``["recipe", "recipe"]``); an item has each tag once.
    """
    if isinstance(value, dict):
        return sorted({_tag_name(name, tag) for name, tag in value.items()})
    if isinstance(value, list):
        return sorted(
            {str(entry.get("tag")) if isinstance(entry, dict) else str(entry) for entry in value}
        )
    return []


@functools.cache
def _integer_fields(struct: type[msgspec.Struct]) -> frozenset[str]:
    hints = t.get_type_hints(struct)
    return frozenset(name for name, hint in hints.items() if int in t.get_args(hint))


def _lenient_struct(struct: type[msgspec.Struct], value: dict[str, t.Any]) -> t.Any:
    """A JSON object as ``struct``, each field coerced as the typed decoder reads it."""
    integers = _integer_fields(struct)
    return struct(
        **{
            name: parse_int(value.get(name)) if name in integers else parse_text(value.get(name))
            for name in struct.__struct_fields__
        }
    )


def _object_reader(struct: type[msgspec.Struct]) -> t.Callable[[t.Any], t.Any]:
    def read(value: t.Any) -> t.Any:
        if not isinstance(value, dict) or not value:
            return None
        return _lenient_struct(struct, value)

    return read


def _flag(value: int | None) -> bool | None:
    return None if value is None else value != 0


def _is_media(value: int | None) -> bool | None:
    """has_video/has_image: "0" none, "1" contains some, "2" the item IS one."""
    return None if value is None else value == 2  # noqa: PLR2004 - Pocket's "is one"


def _text_or_null(value: str | None) -> str | None:
    return value or None


_STATUS_VALUES = frozenset(STATUS_NAMES.values())


def _status(value: str | None) -> str | None:
    """Pocket's "0".."3" as names; a name as it is; anything else null (not a status)."""
    name = STATUS_NAMES.get(value or "", value)
    return name if name in _STATUS_VALUES else None


def _column_reader(column: str, read: Read) -> t.Callable[[t.Any], t.Any] | None:
    """What turns the entry field into the column's value; None: taken as it is."""
    readers: dict[Read, t.Callable[[t.Any], t.Any] | None] = {
        Read.TEXT: None,
        Read.INTEGER: None,
        Read.TEXT_OR_NULL: _text_or_null,
        Read.STATUS: _status,
        Read.FLAG: _flag,
        Read.HAS_MEDIA: _flag,
        Read.IS_MEDIA: _is_media,
        Read.MOMENT: unix_to_iso,
        Read.TAGS: _tags,
        Read.ID_KEYED: _id_keyed,
    }
    if read is Read.OBJECT:
        return _object_reader(_object_type(column))
    return readers[read]


#: For each column in order: (index of its entry field, reader). NOT_READ columns are
#: set by the builder itself (tombstones).
_PLAN: tuple[tuple[int, t.Callable[[t.Any], t.Any] | None], ...] = tuple(
    (ENTRY_FIELDS.index(mark.field or column), _column_reader(column, mark.read))
    for column, mark in _MARKS.items()
    if mark.read is not Read.NOT_READ
)
_STATUS_INDEX = ENTRY_FIELDS.index("status")
_UPDATED_INDEX = ENTRY_FIELDS.index("time_updated")


def entry_row(entry: t.Any, *, observed_at: str | None = None) -> Item:
    """One typed ``/v3/get`` entry as an ``items`` row.

    Deleted (status 2) and hidden (3) entries become tombstones: ``item_id``, ``status``,
    ``time_updated`` and ``_sdc_deleted_at``, every other column null. Pocket's legacy
    deletion notices (``{item_id, status: "2"}``) carry no timestamp; both are then
    stamped with ``observed_at``, the server time of the answer that reported it.
    """
    values = msgspec.structs.astuple(entry)
    status = _status(values[_STATUS_INDEX])
    if status in TOMBSTONE_STATUSES:
        deleted_at = unix_to_iso(values[_UPDATED_INDEX]) or observed_at
        return Item(
            entry.item_id,
            status=t.cast("Status", status),
            time_updated=deleted_at,
            _sdc_deleted_at=deleted_at,
        )
    return Item(*[values[index] if read is None else read(values[index]) for index, read in _PLAN])


def entry_highlights(entry: t.Any) -> list[Highlight]:
    """The ``annotations`` of one typed entry as ``highlights`` rows."""
    annotations = entry.annotations
    if not isinstance(annotations, list) or not annotations:
        return []
    url = entry.given_url or entry.resolved_url
    title = entry.given_title or entry.resolved_title
    return [
        Highlight(
            highlight_id=str(a["annotation_id"]),
            # Pocket put the resolved id inside annotations at times; the list entry's
            # item_id is the one that joins to the items stream.
            item_id=entry.item_id,
            url=url,
            title=title,
            quote=parse_text(a.get("quote")),
            patch=parse_text(a.get("patch")),
            annotation_version=parse_int(a.get("version")),
            created_at=parse_iso_or_epoch(a.get("created_at")),
        )
        for a in annotations
        if isinstance(a, dict) and a.get("annotation_id")
    ]


# Entries that typed decoding rejects ----------------------------------------------------


def _lenient_value(name: str, value: t.Any) -> t.Any:
    if name == "annotations":
        return value
    read = _MARKS[name].read
    if read in _TEXT_READS:
        return parse_text(value)
    if read in _NUMBER_READS:
        return parse_int(value)
    if read is Read.TAGS:
        return _tags(value)
    if read is Read.ID_KEYED:
        objects = _id_keyed(value) if isinstance(value, (dict, list)) else []
        struct = _list_item_type(name)
        return [_lenient_struct(struct, v) for v in objects if isinstance(v, dict)]
    return value  # OBJECT: the builder reads it leniently already


def lenient_entry(raw: dict[str, t.Any], key: str | None = None) -> t.Any:
    """A raw entry dict as a :data:`PocketEntry`, each value coerced as the decoder reads it.

    ``"1588"`` and ``1588.0`` become 1588, a title sent as a number its text, junk null.
    Its id is its ``item_id``, else ``key`` (the entry's key in a list keyed by id).
    Raises :class:`EntryError` when there is no id that is text or an integer.
    """
    fields = {name: _lenient_value(name, raw.get(name)) for name in ENTRY_FIELDS}
    fields["item_id"] = item_id_text(raw.get("item_id", key))
    return PocketEntry(**fields)


def item_id_text(value: t.Any) -> str:
    """An entry's ``item_id`` as text: text as it is, an integer as its digits.

    Raises :class:`EntryError` for anything else (a float, true, null, an object): an id
    that is not exact cannot name an item.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if value is None:
        raise EntryError("no item_id")
    raise EntryError(f"item_id {_shown(value)} is not text or an integer")


class EntryError(ValueError):
    """A list entry that is not an item: the reason, as the end of a sentence about it."""


#: The largest entry read. Real entries are 1-5 KB, a few hundred highlights included.
ENTRY_CAP = 2 << 20

_TYPED_ENTRY = msgspec.json.Decoder(PocketEntry, strict=False)


def decode_entry(text: msgspec.Raw | bytes, key: str | None = None) -> t.Any:
    """One list entry's JSON text as a :data:`PocketEntry`; ``key``: its key, if any.

    Decoded straight into the typed struct; an entry holding a value the typed decoder
    rejects is read leniently (:func:`lenient_entry`), numbers beyond what Python reads
    (over 4300 digits) included. Raises :class:`EntryError` for an entry that is not an
    item.
    """
    if len(text) > ENTRY_CAP:
        raise EntryError(
            f"{len(text) >> 20} MiB, larger than an entry can be ({ENTRY_CAP >> 20} MiB)"
        )
    try:
        entry = _TYPED_ENTRY.decode(text)
    except msgspec.ValidationError:
        return lenient_entry(_plain_object(text), key)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:  # a \ud800 escape, say
        raise EntryError(f"not valid JSON ({exc})") from None
    except RecursionError:
        raise EntryError("nested too deeply to read") from None
    return identified(entry, key)


def identified(entry: t.Any, key: str | None) -> t.Any:
    """A typed entry with its id: an entry of a keyed list without ``item_id`` takes its key.

    Raises :class:`EntryError` for an entry of an array without ``item_id``.
    """
    if entry.item_id is msgspec.UNSET:
        entry.item_id = item_id_text(key)
    return entry


def _plain_object(text: msgspec.Raw | bytes) -> dict[str, t.Any]:
    """An entry as plain JSON values; a number Python cannot read whole is kept as its digits."""
    try:
        value = msgspec.json.decode(text)
    except msgspec.ValidationError:  # a number out of range: the standard library reads it
        value = json.loads(bytes(text), parse_int=_int_or_digits)
    except RecursionError:
        raise EntryError("nested too deeply to read") from None
    if not isinstance(value, dict):
        raise EntryError(f"{_shown(value)}, not an object")
    return value


def _int_or_digits(digits: str) -> int | str:
    try:
        return int(digits)
    except ValueError:  # past Python's limit on integer digits
        return digits


def _shown(value: t.Any) -> str:
    """A value as a message quotes it: JSON, cut short if long."""
    if isinstance(value, (dict, list)):
        return "an object" if isinstance(value, dict) else "an array"
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 40 else text[:36] + "…"  # noqa: PLR2004 - a message's length


def list_entries(body: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    """The entries of a ``/v3/get`` response's ``list``: an object keyed by id, or ``[]``."""
    listing = body.get("list")
    if isinstance(listing, dict):
        entries = []
        for key, entry in listing.items():
            if isinstance(entry, dict):
                entries.append(entry if "item_id" in entry else {**entry, "item_id": key})
        return entries
    if isinstance(listing, list):
        return [entry for entry in listing if isinstance(entry, dict) and "item_id" in entry]
    return []
