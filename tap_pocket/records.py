"""Turn Pocket's shapes into clean rows.

Pocket's v3 API sends nearly every scalar as a string, marks unset timestamps with
``"0"``, keys tags by name and authors/images/videos by id, and omits optional fields.
These small functions turn one raw ``/v3/get`` list entry into the ``items`` row and its
``highlights`` rows. They are shared by the live API path and by API dumps read from disk,
so both load exactly the same way.
"""

from __future__ import annotations

import typing as t
from datetime import date, datetime, timezone

import msgspec

STATUS_NAMES = {"0": "unread", "1": "archived", "2": "deleted", "3": "hidden"}
#: Statuses that mean the item is gone from the user's list: emitted as tombstones.
TOMBSTONE_STATUSES = frozenset({"deleted", "hidden"})

# Pocket (then "Read It Later") launched in 2007; anything before 2000 or after 2100 is
# junk such as the ``"time_read": "2020"`` seen in real responses, not a moment in time.
_EARLIEST_TIMESTAMP = 946_684_800  # 2000-01-01T00:00:00Z
_LATEST_TIMESTAMP = 4_102_444_800  # 2100-01-01T00:00:00Z

#: Every column of the ``items`` stream, in schema order.
ITEM_FIELDS: tuple[str, ...] = (
    "item_id",
    "resolved_id",
    "given_url",
    "given_title",
    "resolved_url",
    "resolved_title",
    "amp_url",
    "excerpt",
    "status",
    "favorite",
    "time_added",
    "time_updated",
    "time_read",
    "time_favorited",
    "sort_id",
    "is_article",
    "is_index",
    "has_video",
    "is_video",
    "has_image",
    "is_image",
    "word_count",
    "time_to_read",
    "listen_duration_estimate",
    "lang",
    "top_image_url",
    "tags",
    "authors",
    "image",
    "images",
    "videos",
    "domain_metadata",
    "_sdc_deleted_at",
)

#: Columns the tap derives rather than reads from a raw entry of the same name.
DERIVED_FIELDS = frozenset({"is_video", "is_image", "_sdc_deleted_at"})

#: Raw list-entry keys that :func:`item_record` understands (``annotations`` feed the
#: highlights stream). Anything else is new to us.
KNOWN_RAW_FIELDS = (frozenset(ITEM_FIELDS) - DERIVED_FIELDS) | {"annotations"}


_UNIX_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
#: ``"HH:"`` for each hour of a day.
HOURS = tuple(f"{h:02d}:" for h in range(24))
#: ``"MM:SS+00:00"`` for each second of an hour.
MINUTES_SECONDS = tuple(f"{s // 60:02d}:{s % 60:02d}+00:00" for s in range(3600))


class _UtcDayPrefixes(dict[int, str]):
    """Days since 1970 to ``"2020-09-17T"``, computed on first use.

    Per day, not per hour: a library's timestamps are spread over years, and its
    distinct days (a few thousand) stay cached where its distinct hours would not.
    """

    limit = 65_536  # ~180 years of days; a cleared cache refills from the days in use

    def __missing__(self, day: int) -> str:
        if len(self) >= self.limit:
            self.clear()
        prefix = date.fromordinal(_UNIX_EPOCH_ORDINAL + day).isoformat() + "T"
        self[day] = prefix
        return prefix


#: Shared by the export reader's CSV loop, which inlines :func:`unix_to_iso`.
UTC_DAY_PREFIXES = _UtcDayPrefixes()


def unix_to_iso(seconds: int) -> str:
    """Unix seconds to ISO 8601 UTC, as ``datetime.isoformat`` writes it.

    Several times faster than a datetime per value: a cached ``YYYY-MM-DDT`` per day
    and precomputed ``HH:`` and ``MM:SS+00:00`` tables. Every timestamp of every row goes
    through it.
    """
    day, second_of_day = divmod(seconds, 86400)
    hour, second_of_hour = divmod(second_of_day, 3600)
    return UTC_DAY_PREFIXES[day] + HOURS[hour] + MINUTES_SECONDS[second_of_hour]


def parse_timestamp(value: t.Any) -> str | None:
    """Pocket unix-seconds (string or number) to an ISO 8601 UTC date-time, or None.

    ``"0"``, empty values and junk outside 2000-2100 (e.g. ``"2020"``) become None.
    """
    if value == "0":  # Pocket's "never", by far the most common value of time_read & co
        return None
    return _timestamp(parse_int(value))


def _timestamp(seconds: int | None) -> str | None:
    """Unix seconds to ISO 8601 UTC, None outside 2000-2100: both paths' one range check."""
    if seconds is None or not _EARLIEST_TIMESTAMP <= seconds < _LATEST_TIMESTAMP:
        return None
    day, second_of_day = divmod(seconds, 86400)  # = unix_to_iso(seconds), inlined
    hour, second_of_hour = divmod(second_of_day, 3600)
    return UTC_DAY_PREFIXES[day] + HOURS[hour] + MINUTES_SECONDS[second_of_hour]


def parse_int(value: t.Any) -> int | None:
    """``"1588"``, ``1588``, ``1588.0`` or ``"1.588e3"`` to 1588; empty, fractional or
    non-numeric values to None (the same integers :data:`PAGE_DECODER` reads)."""
    if type(value) is str:  # the usual case first: this runs for every field of every item
        try:
            return int(value)  # int() itself ignores surrounding whitespace
        except ValueError:
            return _integral_float(value)
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    try:
        return int(str(value))
    except ValueError:
        return None


def _integral_float(text: str) -> int | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return int(number) if number.is_integer() else None


def parse_flag(value: t.Any) -> bool | None:
    """Pocket's ``"0"``/``"1"`` flags to booleans."""
    number = parse_int(value)
    return None if number is None else number != 0


def _text(value: t.Any) -> str | None:
    return None if value is None else str(value)


def _media_kind(value: t.Any) -> tuple[bool | None, bool | None]:
    """has_video/has_image: "0" none, "1" contains some, "2" the item IS one.

    Returned as (has, is) so "the item is a video" survives as its own column.
    """
    number = parse_int(value)
    if number is None:
        return None, None
    return number != 0, number == 2


def _key_order(key: str) -> tuple[int, int, str]:
    return (0, int(key), key) if key.isdigit() else (1, 0, key)


def _id_keyed(value: t.Any) -> list[dict[str, t.Any]]:
    """Pocket's ``{"1": {...}, "2": {...}}`` maps (or an empty ``[]``) as a list, in key order."""
    if isinstance(value, dict):
        return [value[key] for key in sorted(value, key=_key_order) if isinstance(value[key], dict)]
    if isinstance(value, list):
        return [entry for entry in value if isinstance(entry, dict)]
    return []


def parse_tags(value: t.Any) -> list[str]:
    """Tags keyed by name ``{name: {item_id, tag}}`` to a sorted list of names."""
    if isinstance(value, dict):
        return sorted(
            str(entry.get("tag", name)) if isinstance(entry, dict) else str(name)
            for name, entry in value.items()
        )
    if isinstance(value, list):
        return sorted(
            str(entry.get("tag")) if isinstance(entry, dict) else str(entry) for entry in value
        )
    return []


def parse_authors(value: t.Any) -> list[dict[str, t.Any]]:
    return [
        {
            "author_id": _text(a.get("author_id")),
            "name": _text(a.get("name")),
            "url": _text(a.get("url")),
        }
        for a in _id_keyed(value)
    ]


def parse_image(value: t.Any) -> dict[str, t.Any] | None:
    if not isinstance(value, dict) or not value:
        return None
    return {
        "src": _text(value.get("src")),
        "width": parse_int(value.get("width")),
        "height": parse_int(value.get("height")),
    }


def parse_images(value: t.Any) -> list[dict[str, t.Any]]:
    return [
        {
            "image_id": _text(i.get("image_id")),
            "src": _text(i.get("src")),
            "width": parse_int(i.get("width")),
            "height": parse_int(i.get("height")),
            "credit": _text(i.get("credit")),
            "caption": _text(i.get("caption")),
        }
        for i in _id_keyed(value)
    ]


def parse_videos(value: t.Any) -> list[dict[str, t.Any]]:
    return [
        {
            "video_id": _text(v.get("video_id")),
            "src": _text(v.get("src")),
            "width": parse_int(v.get("width")),
            "height": parse_int(v.get("height")),
            "type": _text(v.get("type")),
            "vid": _text(v.get("vid")),
            "length": parse_int(v.get("length")),
        }
        for v in _id_keyed(value)
    ]


def parse_domain_metadata(value: t.Any) -> dict[str, t.Any] | None:
    if not isinstance(value, dict) or not value:
        return None
    return {
        "name": _text(value.get("name")),
        "logo": _text(value.get("logo")),
        "greyscale_logo": _text(value.get("greyscale_logo")),
    }


def empty_item(item_id: str) -> dict[str, t.Any]:
    """A row with every column present and null, for sources that lack most fields."""
    row: dict[str, t.Any] = dict.fromkeys(ITEM_FIELDS)
    row["item_id"] = item_id
    return row


def item_record(raw: dict[str, t.Any], *, observed_at: str | None = None) -> dict[str, t.Any]:
    """One raw ``/v3/get`` list entry to an ``items`` row.

    Deleted (status 2) and hidden (3) entries become tombstones: ``item_id``, ``status``,
    ``time_updated`` and ``_sdc_deleted_at``, every other column null. Pocket's legacy
    deletion notices (``{item_id, status: "2"}``) carry no timestamp; for those both
    are stamped with ``observed_at``, the server time of the response that reported it.
    """
    get = raw.get
    status = STATUS_NAMES.get(str(get("status")), _text(get("status")))
    time_updated = parse_timestamp(get("time_updated"))
    if status in TOMBSTONE_STATUSES:
        row = empty_item(str(raw["item_id"]))
        row["status"] = status
        row["time_updated"] = row["_sdc_deleted_at"] = time_updated or observed_at
        return row

    has_video, is_video = _media_kind(get("has_video"))
    has_image, is_image = _media_kind(get("has_image"))
    lang = get("lang")
    # One dict display in schema order (ITEM_FIELDS): this runs for every item.
    return {
        "item_id": str(raw["item_id"]),
        "resolved_id": _text(get("resolved_id")) or None,
        "given_url": _text(get("given_url")),
        "given_title": _text(get("given_title")),
        "resolved_url": _text(get("resolved_url")),
        "resolved_title": _text(get("resolved_title")),
        "amp_url": _text(get("amp_url")),
        "excerpt": _text(get("excerpt")),
        "status": status,
        "favorite": parse_flag(get("favorite")),
        "time_added": parse_timestamp(get("time_added")),
        "time_updated": time_updated,
        "time_read": parse_timestamp(get("time_read")),
        "time_favorited": parse_timestamp(get("time_favorited")),
        "sort_id": parse_int(get("sort_id")),
        "is_article": parse_flag(get("is_article")),
        "is_index": parse_flag(get("is_index")),
        "has_video": has_video,
        "is_video": is_video,
        "has_image": has_image,
        "is_image": is_image,
        "word_count": parse_int(get("word_count")),
        "time_to_read": parse_int(get("time_to_read")),
        "listen_duration_estimate": parse_int(get("listen_duration_estimate")),
        "lang": str(lang) if lang else None,
        "top_image_url": _text(get("top_image_url")),
        "tags": parse_tags(get("tags")),
        "authors": parse_authors(get("authors")),
        "image": parse_image(get("image")),
        "images": parse_images(get("images")),
        "videos": parse_videos(get("videos")),
        "domain_metadata": parse_domain_metadata(get("domain_metadata")),
        "_sdc_deleted_at": None,
    }


#: Every column of the ``highlights`` stream, in schema order.
HIGHLIGHT_FIELDS: tuple[str, ...] = (
    "highlight_id",
    "item_id",
    "url",
    "title",
    "quote",
    "patch",
    "annotation_version",
    "created_at",
)


def parse_iso_or_epoch(value: t.Any) -> str | None:
    """Annotation ``created_at``: ISO 8601 from the API, epoch seconds in exports."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) or str(value).strip().isdigit():
        return parse_timestamp(int(value))
    text = str(value).strip().replace(" ", "T", 1)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc).isoformat()


def highlight_records(raw: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    """The ``annotations`` of one raw ``/v3/get`` list entry as ``highlights`` rows."""
    annotations = raw.get("annotations")
    if not isinstance(annotations, list) or not annotations:
        return []
    item_id = str(raw["item_id"])
    url = _text(raw.get("given_url")) or _text(raw.get("resolved_url"))
    title = _text(raw.get("given_title")) or _text(raw.get("resolved_title"))
    return [
        {
            "highlight_id": str(a["annotation_id"]),
            # Pocket put the resolved id inside annotations at times; the list entry's
            # item_id is the one that joins to the items stream.
            "item_id": item_id,
            "url": url,
            "title": title,
            "quote": _text(a.get("quote")),
            "patch": _text(a.get("patch")),
            "annotation_version": parse_int(a.get("version")),
            "created_at": parse_iso_or_epoch(a.get("created_at")),
        }
        for a in annotations
        if isinstance(a, dict) and a.get("annotation_id")
    ]


def list_entries(body: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    """The entries of a ``/v3/get`` response's ``list``: an object keyed by id, or ``[]``."""
    listing = body.get("list")
    if isinstance(listing, dict):
        entries = []
        for key, entry in listing.items():
            if isinstance(entry, dict):
                if "item_id" not in entry:
                    entry = {**entry, "item_id": key}
                entries.append(entry)
        return entries
    if isinstance(listing, list):
        return [entry for entry in listing if isinstance(entry, dict) and "item_id" in entry]
    return []


# The typed fast path -----------------------------------------------------------------
#
# Decoding a page straight into these structs (msgspec, in C, reading "1588" as 1588)
# and building rows from them is about twice as fast as decoding to dicts and running
# item_record. They accept only values that item_record reads the same way (text as
# text or null, integers as Pocket's digit strings or numbers, id-keyed objects of
# objects); a page holding anything else fails to decode and takes the dict path, so
# both paths give the same rows for every page (tests/test_typed_records.py checks this).

_Text = t.Optional[str]  # noqa: UP045 - evaluated at run time, by msgspec
_Int = t.Optional[int]  # noqa: UP045
_Raw = t.Any  # left as decoded JSON, for the same helper as the dict path


class _Author(msgspec.Struct, gc=False):
    author_id: _Text = None
    name: _Text = None
    url: _Text = None


class _Image(msgspec.Struct, gc=False):
    image_id: _Text = None
    src: _Text = None
    width: _Int = None
    height: _Int = None
    credit: _Text = None
    caption: _Text = None


class _Video(msgspec.Struct, gc=False):
    video_id: _Text = None
    src: _Text = None
    width: _Int = None
    height: _Int = None
    type: _Text = None
    vid: _Text = None
    length: _Int = None


class _Tag(msgspec.Struct, gc=False):
    tag: str | msgspec.UnsetType = msgspec.UNSET


class PocketEntry(msgspec.Struct, gc=False):
    """One ``/v3/get`` list entry, typed: the fields :func:`item_record` reads."""

    item_id: str
    resolved_id: _Text = None
    given_url: _Text = None
    given_title: _Text = None
    resolved_url: _Text = None
    resolved_title: _Text = None
    amp_url: _Text = None
    excerpt: _Text = None
    status: _Text = None
    favorite: _Int = None
    time_added: _Int = None
    time_updated: _Int = None
    time_read: _Int = None
    time_favorited: _Int = None
    sort_id: _Int = None
    is_article: _Int = None
    is_index: _Int = None
    has_video: _Int = None
    has_image: _Int = None
    word_count: _Int = None
    time_to_read: _Int = None
    listen_duration_estimate: _Int = None
    lang: _Text = None
    top_image_url: _Text = None
    tags: dict[str, _Tag] | list[_Raw] | None = None
    authors: dict[str, _Author] | list[_Author] | None = None
    image: _Raw = None
    images: dict[str, _Image] | list[_Image] | None = None
    videos: dict[str, _Video] | list[_Video] | None = None
    domain_metadata: _Raw = None
    annotations: _Raw = None


class _TypedPage(msgspec.Struct, gc=False):
    entries: dict[str, PocketEntry] | list[PocketEntry] = msgspec.field(
        name="list", default_factory=list
    )
    total: _Raw = None


#: strict=False: Pocket's numbers are strings ("1588"), read as integers here.
PAGE_DECODER = msgspec.json.Decoder(_TypedPage, strict=False)


def decode_typed_page(content: bytes) -> tuple[list[PocketEntry], t.Any] | None:
    """A ``/v3/get`` body's entries and ``total``, typed; None if some value is outside
    what the typed path reads (decode it as dicts then). Malformed JSON raises
    ``msgspec.DecodeError``."""
    try:
        page = PAGE_DECODER.decode(content)
    except msgspec.ValidationError:
        return None
    listing = page.entries
    return (list(listing.values()) if isinstance(listing, dict) else listing), page.total


def _id_keyed_structs(value: t.Any) -> list[t.Any]:
    """Authors, images or videos in key order, as structs: they encode as the dict path's
    objects (every field, in the same order)."""
    if not value:
        return []
    if isinstance(value, dict):
        if len(value) == 1:
            return list(value.values())
        return [value[key] for key in sorted(value, key=_key_order)]
    return list(value)


def _typed_tags(value: t.Any) -> list[str]:
    if isinstance(value, dict):
        return sorted(
            [name if tag.tag is msgspec.UNSET else tag.tag for name, tag in value.items()]
        )
    return parse_tags(value)


class ItemRow(msgspec.Struct, gc=False):
    """An ``items`` row as a struct: the columns of ITEM_FIELDS, in order. It encodes to
    the same JSON as :func:`entry_record`'s dict, faster, and is built faster."""

    item_id: str
    resolved_id: t.Any = None
    given_url: t.Any = None
    given_title: t.Any = None
    resolved_url: t.Any = None
    resolved_title: t.Any = None
    amp_url: t.Any = None
    excerpt: t.Any = None
    status: t.Any = None
    favorite: t.Any = None
    time_added: t.Any = None
    time_updated: t.Any = None
    time_read: t.Any = None
    time_favorited: t.Any = None
    sort_id: t.Any = None
    is_article: t.Any = None
    is_index: t.Any = None
    has_video: t.Any = None
    is_video: t.Any = None
    has_image: t.Any = None
    is_image: t.Any = None
    word_count: t.Any = None
    time_to_read: t.Any = None
    listen_duration_estimate: t.Any = None
    lang: t.Any = None
    top_image_url: t.Any = None
    tags: t.Any = None
    authors: t.Any = None
    image: t.Any = None
    images: t.Any = None
    videos: t.Any = None
    domain_metadata: t.Any = None
    _sdc_deleted_at: t.Any = None


def entry_row(entry: PocketEntry, *, observed_at: str | None = None) -> ItemRow:
    """:func:`item_record` for a typed entry, as an :class:`ItemRow`."""
    status = STATUS_NAMES.get(entry.status or "", entry.status)
    updated = entry.time_updated
    time_updated = _timestamp(updated)
    if status in TOMBSTONE_STATUSES:
        deleted_at = time_updated or observed_at
        return ItemRow(
            entry.item_id, status=status, time_updated=deleted_at, _sdc_deleted_at=deleted_at
        )
    # time_added or time_read often equal time_updated: each distinct value converted once.
    added, read = entry.time_added, entry.time_read
    time_added = time_updated if added == updated else _timestamp(added)
    time_read = time_updated if read == updated else _timestamp(read)
    favorite, is_article, is_index = entry.favorite, entry.is_article, entry.is_index
    has_video, has_image = entry.has_video, entry.has_image
    # Positional, in ItemRow's order; flags inline: 0 -> False, any other number -> True.
    return ItemRow(
        entry.item_id,
        entry.resolved_id or None,
        entry.given_url,
        entry.given_title,
        entry.resolved_url,
        entry.resolved_title,
        entry.amp_url,
        entry.excerpt,
        status,
        None if favorite is None else favorite != 0,
        time_added,
        time_updated,
        time_read,
        _timestamp(entry.time_favorited),
        entry.sort_id,
        None if is_article is None else is_article != 0,
        None if is_index is None else is_index != 0,
        None if has_video is None else has_video != 0,
        None if has_video is None else has_video == 2,
        None if has_image is None else has_image != 0,
        None if has_image is None else has_image == 2,
        entry.word_count,
        entry.time_to_read,
        entry.listen_duration_estimate,
        entry.lang or None,
        entry.top_image_url,
        _typed_tags(entry.tags),
        _id_keyed_structs(entry.authors),
        parse_image(entry.image),
        _id_keyed_structs(entry.images),
        _id_keyed_structs(entry.videos),
        parse_domain_metadata(entry.domain_metadata),
        None,
    )


def entry_record(entry: PocketEntry, *, observed_at: str | None = None) -> dict[str, t.Any]:
    """:func:`item_record` for a typed entry: the same row, as a dict."""
    row: dict[str, t.Any] = msgspec.to_builtins(entry_row(entry, observed_at=observed_at))
    return row


def entry_highlights(entry: PocketEntry) -> list[dict[str, t.Any]]:
    """:func:`highlight_records` for a typed entry."""
    if not entry.annotations:
        return []
    return highlight_records(
        {
            "item_id": entry.item_id,
            "given_url": entry.given_url,
            "resolved_url": entry.resolved_url,
            "given_title": entry.given_title,
            "resolved_title": entry.resolved_title,
            "annotations": entry.annotations,
        }
    )
