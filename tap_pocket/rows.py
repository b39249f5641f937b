"""The rows the tap emits, each shape written once.

:class:`Item` and :class:`Highlight` are the ``items`` and ``highlights`` streams' rows.
Everything else derives from them: the streams' JSON schemas (:func:`singer_schema`),
the column lists, the typed decoder of Pocket's ``/v3/get`` entries and the row builder
(:mod:`tap_pocket.api.convert`, from the :class:`Pocket` mark on each column, which says
how Pocket's API spells that column). Adding a column is one line here.

Rows are msgspec structs: built in C, encoded straight to JSON in column order (nulls
included), and turned into the plain dicts of the SDK's record path by :func:`to_record`.
"""

from __future__ import annotations

import enum
import typing as t
from dataclasses import dataclass
from typing import Annotated, Literal

import msgspec
from msgspec import Meta
from singer_sdk import typing as th

from tap_pocket.pages import outcomes


class Read(enum.Enum):
    """How a column is read from Pocket's ``/v3/get`` list entry."""

    TEXT = "text"  # text as sent; numbers as their text
    TEXT_OR_NULL = "text or null"  # text, "" as null
    INTEGER = "integer"  # "1588" -> 1588
    FLAG = "flag"  # "0"/"1" -> false/true
    MOMENT = "moment"  # unix seconds -> ISO 8601 UTC; "0" and junk -> null
    STATUS = "status"  # "0".."3" -> unread, archived, deleted, hidden
    HAS_MEDIA = "has media"  # "0" none, "1" contains some, "2" is one -> has = not "0"
    IS_MEDIA = "is media"  # the same field, "2" -> true
    TAGS = "tags"  # {name: {tag}} -> sorted names
    ID_KEYED = "id-keyed"  # {"1": {...}, "2": {...}} -> objects in key order
    OBJECT = "object"  # {...} -> the object; {} or [] -> null
    NOT_READ = "not read"  # set by the tap, not read from Pocket


@dataclass(frozen=True)
class Pocket:
    """A column's mark: how it is read, and from which entry field (default: its name)."""

    read: Read
    field: str | None = None


Text = Annotated[str | None, Pocket(Read.TEXT)]
Integer = Annotated[int | None, Pocket(Read.INTEGER)]
Flag = Annotated[bool | None, Pocket(Read.FLAG)]
Moment = Annotated[
    str | None,
    Meta(extra_json_schema={"format": "date-time"}),
    Pocket(Read.MOMENT),
]
Status = Literal["unread", "archived", "deleted", "hidden"]


class Author(msgspec.Struct, gc=False):
    """An author of an item, as Pocket's parser found it."""

    author_id: Text = None
    name: Text = None
    url: Text = None


class Image(msgspec.Struct, gc=False):
    """The item's main image."""

    src: Text = None
    width: Integer = None
    height: Integer = None


class ItemImage(msgspec.Struct, gc=False):
    """One image of the item's page."""

    image_id: Text = None
    src: Text = None
    width: Integer = None
    height: Integer = None
    credit: Text = None
    caption: Text = None


class Video(msgspec.Struct, gc=False):
    """One video of the item's page."""

    video_id: Text = None
    src: Text = None
    width: Integer = None
    height: Integer = None
    type: Text = None
    vid: Text = None
    length: Integer = None


class DomainMetadata(msgspec.Struct, gc=False):
    """What Pocket knew of the item's site."""

    name: Text = None
    logo: Text = None
    greyscale_logo: Text = None


class Item(msgspec.Struct, gc=False):
    """One saved link: a row of ``items``. Columns in schema order."""

    item_id: Annotated[
        str,
        Pocket(Read.TEXT),
        Meta(description="Pocket's item id; for exports without ids, derived from the URL"),
    ]
    resolved_id: Annotated[
        str | None,
        Pocket(Read.TEXT_OR_NULL),
        Meta(description="Id of the resolved (canonical) URL"),
    ] = None
    given_url: Annotated[Text, Meta(description="URL as saved")] = None
    given_title: Annotated[Text, Meta(description="Title as saved")] = None
    resolved_url: Text = None
    resolved_title: Text = None
    amp_url: Text = None
    excerpt: Text = None
    status: Annotated[
        Status | None,
        Pocket(Read.STATUS),
        Meta(description="unread, archived, deleted or hidden"),
    ] = None
    favorite: Flag = None
    time_added: Moment = None
    time_updated: Annotated[Moment, Meta(description="Replication key")] = None
    time_read: Annotated[Moment, Meta(description="When archived; null if never")] = None
    time_favorited: Moment = None
    sort_id: Annotated[Integer, Meta(description="Position within its API page")] = None
    is_article: Flag = None
    is_index: Flag = None
    has_video: Annotated[
        bool | None, Pocket(Read.HAS_MEDIA), Meta(description="Contains or is a video")
    ] = None
    is_video: Annotated[
        bool | None,
        Pocket(Read.IS_MEDIA, "has_video"),
        Meta(description="The item is itself a video"),
    ] = None
    has_image: Annotated[
        bool | None, Pocket(Read.HAS_MEDIA), Meta(description="Contains or is an image")
    ] = None
    is_image: Annotated[
        bool | None,
        Pocket(Read.IS_MEDIA, "has_image"),
        Meta(description="The item is itself an image"),
    ] = None
    word_count: Integer = None
    time_to_read: Annotated[Integer, Meta(description="Minutes")] = None
    listen_duration_estimate: Annotated[Integer, Meta(description="Seconds")] = None
    lang: Annotated[str | None, Pocket(Read.TEXT_OR_NULL)] = None
    top_image_url: Text = None
    tags: Annotated[list[str] | None, Pocket(Read.TAGS)] = None
    authors: Annotated[list[Author] | None, Pocket(Read.ID_KEYED)] = None
    image: Annotated[Image | None, Pocket(Read.OBJECT)] = None
    images: Annotated[list[ItemImage] | None, Pocket(Read.ID_KEYED)] = None
    videos: Annotated[list[Video] | None, Pocket(Read.ID_KEYED)] = None
    domain_metadata: Annotated[DomainMetadata | None, Pocket(Read.OBJECT)] = None
    _sdc_deleted_at: Annotated[
        str | None,
        Meta(
            description="Set on tombstones: the item was deleted or hidden in Pocket",
            extra_json_schema={"format": "date-time"},
        ),
        Pocket(Read.NOT_READ),
    ] = None


class Highlight(msgspec.Struct, gc=False):
    """One highlighted passage: a row of ``highlights``."""

    highlight_id: Annotated[
        str,
        Meta(description="Pocket's annotation id; for exports, derived from url, quote and time"),
    ]
    item_id: Annotated[Text, Meta(description="The highlighted item (joins to items)")] = None
    url: Text = None
    title: Text = None
    quote: Text = None
    patch: Annotated[Text, Meta(description="Pocket's diff-match-patch anchor (API only)")] = None
    annotation_version: Annotated[
        Integer,
        Meta(description="Pocket's annotation format version (API only; Pocket's field `version`)"),
    ] = None
    created_at: Moment = None


class Page(msgspec.Struct, gc=False):
    """One fetched link: a row of ``pages`` (what the item's URL answers today)."""

    item_id: Annotated[str, Meta(description="The item whose URL was fetched (joins to items)")]
    url: Annotated[Text, Meta(description="The URL requested: the item's given URL")] = None
    final_url: Annotated[Text, Meta(description="The URL after redirects")] = None
    http_status: Annotated[
        Integer, Meta(description="The final HTTP status; null when no HTTP answer came")
    ] = None
    content_type: Annotated[Text, Meta(description="Media type of the final answer")] = None
    title: Text = None
    excerpt: Text = None
    lang: Text = None
    word_count: Annotated[Integer, Meta(description="Words of the main text")] = None
    authors: list[str] | None = None
    published_at: Moment = None
    top_image_url: Text = None
    site_name: Text = None
    text: Annotated[Text, Meta(description="The page's main text, without boilerplate")] = None
    archived_url: Annotated[
        Text,
        Meta(description="For a dead link: the closest Internet Archive snapshot to time_added"),
    ] = None
    fetched_at: Annotated[Moment, Meta(description="When the answer came (replication key)")] = None
    error: Annotated[str | None, Meta(description=outcomes.describe())] = None
    attempts: Annotated[
        Integer,
        Meta(
            description=(
                "Runs that tried this link since its last answer: for an answer, the run "
                "that got it plus the failed runs just before (1: the first try); while "
                "first_failed_at is set, the runs that failed since (null: fetched by "
                "an earlier build)"
            )
        ),
    ] = None
    first_failed_at: Annotated[
        Moment,
        Meta(
            description=(
                "When this link's passing failures (timeout, reset, 5xx...) began, while "
                "they last; with error null, the row is the last good page and its refresh "
                "is failing (null: no unresolved failure)"
            )
        ),
    ] = None


Row = Item | Highlight

#: Every column of ``items`` and of ``highlights``, in schema order.
ITEM_COLUMNS: tuple[str, ...] = Item.__struct_fields__
HIGHLIGHT_COLUMNS: tuple[str, ...] = Highlight.__struct_fields__


def to_record(row: msgspec.Struct) -> dict[str, t.Any]:
    """A row as the plain dict the SDK's record path takes (nested structs as dicts)."""
    record: dict[str, t.Any] = msgspec.to_builtins(row)
    return record


def column_marks(struct: type[msgspec.Struct]) -> dict[str, Pocket]:
    """Each column's :class:`Pocket` mark (columns without one are read as text)."""
    hints = t.get_type_hints(struct, include_extras=True)
    marks = {}
    for name in struct.__struct_fields__:
        found = [m for m in _annotated_extras(hints[name]) if isinstance(m, Pocket)]
        marks[name] = found[0] if found else Pocket(Read.TEXT)
    return marks


def _annotated_extras(hint: t.Any) -> list[t.Any]:
    extras: list[t.Any] = []
    while t.get_origin(hint) is Annotated:
        extras.extend(hint.__metadata__)
        hint = hint.__origin__
    return extras


def singer_schema(struct: type[msgspec.Struct]) -> dict[str, t.Any]:
    """The stream's JSON schema, from the row struct's columns, types and descriptions."""
    info = msgspec.inspect.type_info(struct)
    assert isinstance(info, msgspec.inspect.StructType)  # noqa: S101 - structs only
    return _null_in_enums(th.PropertiesList(*_properties(info)).to_dict())


def _null_in_enums(schema: dict[str, t.Any]) -> dict[str, t.Any]:
    """Add null to the ``enum`` of each nullable column that has one.

    JSON Schema checks ``enum`` apart from ``type``: ``{"type": ["string", "null"],
    "enum": ["a"]}`` rejects a null, which every column may hold.
    """
    types = schema.get("type")
    if (
        "enum" in schema
        and isinstance(types, list)
        and "null" in types
        and None not in schema["enum"]
    ):
        schema["enum"] = [*schema["enum"], None]
    for child in schema.get("properties", {}).values():
        _null_in_enums(child)
    if isinstance(schema.get("items"), dict):
        _null_in_enums(schema["items"])
    return schema


def _properties(info: msgspec.inspect.StructType) -> list[th.Property[t.Any]]:
    properties = []
    for field in info.fields:
        kind, extra = _unwrap(field.type)
        properties.append(
            th.Property(
                field.encode_name,
                _singer_type(kind, extra),
                required=field.required,
                description=extra.get("description"),
            )
        )
    return properties


def _unwrap(kind: msgspec.inspect.Type) -> tuple[msgspec.inspect.Type, dict[str, t.Any]]:
    """The type without Meta and null (every column may be null), and its schema extras."""
    extra: dict[str, t.Any] = {}
    if isinstance(kind, msgspec.inspect.Metadata):
        extra = dict(kind.extra_json_schema or {})
        kind = kind.type
    if isinstance(kind, msgspec.inspect.UnionType):
        (kind,) = [k for k in kind.types if not isinstance(k, msgspec.inspect.NoneType)]
    if isinstance(kind, msgspec.inspect.Metadata):
        extra = {**(kind.extra_json_schema or {}), **extra}
        kind = kind.type
    return kind, extra


def _singer_type(kind: msgspec.inspect.Type, extra: dict[str, t.Any]) -> t.Any:
    if isinstance(kind, msgspec.inspect.StrType):
        return th.DateTimeType if extra.get("format") == "date-time" else th.StringType
    if isinstance(kind, msgspec.inspect.LiteralType):
        return th.StringType(allowed_values=list(kind.values))
    if isinstance(kind, msgspec.inspect.BoolType):
        return th.BooleanType
    if isinstance(kind, msgspec.inspect.IntType):
        return th.IntegerType
    if isinstance(kind, msgspec.inspect.ListType):
        return th.ArrayType(_singer_type(*_unwrap(kind.item_type)))
    if isinstance(kind, msgspec.inspect.StructType):
        return th.ObjectType(*_properties(kind))
    msg = f"no JSON schema type for {kind!r}"
    raise TypeError(msg)


ITEM_SCHEMA = singer_schema(Item)
HIGHLIGHT_SCHEMA = singer_schema(Highlight)
PAGE_SCHEMA = singer_schema(Page)


class StreamShape(t.NamedTuple):
    """What the API and export streams of one name share: name, keys and schema.

    A stream class takes all four in one line:
    ``name, primary_keys, replication_key, schema = ITEMS``.
    """

    name: str
    primary_keys: list[str]
    replication_key: str
    schema: dict[str, t.Any]


ITEMS = StreamShape("items", ["item_id"], "time_updated", ITEM_SCHEMA)
HIGHLIGHTS = StreamShape("highlights", ["highlight_id"], "created_at", HIGHLIGHT_SCHEMA)
PAGES = StreamShape("pages", ["item_id"], "fetched_at", PAGE_SCHEMA)
