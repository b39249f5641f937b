"""How Pocket wrote one ``/v3/get`` list entry: field order, string typing, JSON text.

Entries are served as JSON *text* assembled from pre-encoded pieces: encoding a big dict
per item per request would be far too slow for 5000-item pages. Everything here works on
that text form; :mod:`pocket_emulator.account` decides which pieces an item has.
"""

from __future__ import annotations

import json
import time
import typing as t

#: The fields that describe the user's copy of the item, in Pocket's order. ``sort_id``
#: (the position in the page) follows them, so the cached text is split around it.
HEAD_FIELDS: tuple[str, ...] = (
    "item_id",
    "resolved_id",
    "given_url",
    "given_title",
    "favorite",
    "status",
    "time_added",
    "time_updated",
    "time_read",
    "time_favorited",
)

#: Everything after ``sort_id``, in the order the real samples show.
TAIL_FIELDS: tuple[str, ...] = (
    "resolved_title",
    "resolved_url",
    "excerpt",
    "is_article",
    "is_index",
    "has_video",
    "has_image",
    "word_count",
    "lang",
    "time_to_read",
    "top_image_url",
    "amp_url",
    "tags",
    "authors",
    "image",
    "images",
    "videos",
    "domain_metadata",
    "listen_duration_estimate",
)

#: ``detailType=simple`` leaves these out.
COMPLETE_ONLY_FIELDS = frozenset(
    {"tags", "authors", "image", "images", "videos", "domain_metadata"}
)

#: Scalars Pocket sent as JSON numbers.
INT_FIELDS = frozenset({"sort_id", "time_to_read", "listen_duration_estimate"})

#: Scalars Pocket sent as strings even when they hold numbers: every other scalar.
STRING_FIELDS = frozenset(HEAD_FIELDS + TAIL_FIELDS) - INT_FIELDS - COMPLETE_ONLY_FIELDS

#: Item statuses, as Pocket spelled them.
UNREAD, ARCHIVED, DELETED, HIDDEN = "0", "1", "2", "3"

# Compact, with non-ASCII characters as \uXXXX escapes: that is what Pocket's PHP
# json_encode sent, and it keeps page text pure ASCII, which Python joins and encodes
# to bytes far faster than text holding emoji.
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True).encode


def encode(value: t.Any) -> str:
    """Compact JSON text for ``value``."""
    return _encode(value)


def pocket_string(value: t.Any) -> str | None:
    """A scalar the way Pocket typed it: ``True``/``1`` -> ``"1"``; None stays null."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def normalize_field(name: str, value: t.Any) -> t.Any:
    """Coerce a field set by a test (``favorite=1``, ``word_count=300``) to Pocket's type."""
    if name in STRING_FIELDS:
        return pocket_string(value)
    if name in INT_FIELDS and value is not None:
        return int(value)
    return value


def tags_object(item_id: str, tags: t.Iterable[str]) -> dict[str, dict[str, str]]:
    """Tags keyed by name, the way Pocket nested them."""
    return {name: {"item_id": item_id, "tag": name} for name in tags}


def tombstone_text(item_id: str, status: str) -> str:
    """The legacy shape of a deleted (or hidden) item in a ``since`` sync, nothing else."""
    return f'{{"item_id":"{item_id}","status":"{status}","listen_duration_estimate":0}}'


def iso_utc(seconds: int) -> str:
    """Unix seconds as the ISO 8601 form of annotation dates: ``2019-09-22T03:36:43.000Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(seconds))


def annotation_patch(quote: str, position: int) -> str:
    """A diff-match-patch string that wraps ``quote`` in Pocket's highlight markers.

    Real patches carry a few characters of context; the emulator's only need to look and
    parse like them (``%3C`` / ``%3E`` are the URL-encoded angle brackets Pocket used).
    """
    start = position + 1
    return (
        f"@@ -{start},8 +{start},28 @@\n"
        f"+%3Cpkt_tag_annotation%3E\n"
        f" {quote[:8]}\n"
        f"@@ -{start + len(quote)},8 +{start + len(quote) + 20},29 @@\n"
        f" {quote[-8:]}\n"
        f"+%3C/pkt_tag_annotation%3E\n"
    )


def annotations_text(highlights: t.Sequence[dict[str, t.Any]]) -> str:
    """The ``,"annotations":[...]`` member for an entry, or ``""`` when it has none."""
    if not highlights:
        return ""
    return ',"annotations":' + encode(list(highlights))


class EntryText(t.NamedTuple):
    """One item's cached JSON text, split around ``sort_id`` and without its closing ``}``."""

    head: str  # '{"item_id":...,"time_favorited":"0","sort_id":'
    tail: str  # ',"resolved_title":...,"listen_duration_estimate":615'

    def render(self, sort_id: int, annotations: str = "") -> str:
        """The entry's JSON text at position ``sort_id``, with an ``annotations`` member."""
        return f"{self.head}{sort_id}{self.tail}{annotations}}}"


def entry_text(raw: dict[str, t.Any], *, complete: bool) -> EntryText:
    """Split and encode one raw entry (any field order, no ``sort_id``) for serving."""
    head = {name: raw[name] for name in HEAD_FIELDS if name in raw}
    tail_names = [name for name in TAIL_FIELDS if name in raw]
    known = set(HEAD_FIELDS) | set(TAIL_FIELDS) | {"sort_id", "annotations"}
    tail_names += [name for name in raw if name not in known]  # fields a test invented
    if not complete:
        tail_names = [name for name in tail_names if name not in COMPLETE_ONLY_FIELDS]
    tail = {name: raw[name] for name in tail_names}
    head_text = encode(head)[:-1] + ',"sort_id":'
    tail_text = encode(tail)[1:-1]
    return EntryText(head_text, "," + tail_text if tail_text else "")
