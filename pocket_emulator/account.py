"""One Pocket user's saved items, held in memory, and the ``/v3/get`` queries over them.

Storage is columnar so that a generated million-item account stays small: every item has
a row in a few typed arrays (id, times, status, favorite, content kind, tag set). Items
made by :func:`~pocket_emulator.generate_account` keep no dict at all; their entry is
assembled from a shared :class:`~pocket_emulator.profiles.Profile`. An item that a test
adds or changes is "materialized": it gets its own raw dict (exactly what Pocket would
send, detailType=complete) whose JSON text is cached until the next change.
"""

from __future__ import annotations

import bisect
import copy
import hashlib
import json
import threading
import typing as t
import uuid
from array import array
from dataclasses import dataclass

from pocket_emulator.clock import Clock, system_clock
from pocket_emulator.entries import (
    ARCHIVED,
    DELETED,
    HIDDEN,
    UNREAD,
    EntryText,
    annotation_patch,
    annotations_text,
    entry_text,
    iso_utc,
    normalize_field,
    tags_object,
    tombstone_text,
)
from pocket_emulator.profiles import RESOLVED_ID_OFFSET, Profile, TagPool, content_bits

#: Ids the account hands out to added items start above any generated id.
FIRST_ADDED_ITEM_ID = 3_000_000_000

#: Statuses listed without ``since`` when ``state=all``.
LIVE_STATUSES = frozenset({0, 1})

#: Statuses from this one up (deleted "2", hidden "3") are gone from the list.
FIRST_GONE_STATUS = int(DELETED)

# Annotation ids are derived, not random, so that runs are reproducible.
_ANNOTATION_NAMESPACE = uuid.UUID("5f0c0f8e-54a1-4b0e-9a57-6f1c2b7d9e10")

# How many distinct filtered listings to keep; a sync pages through one of them.
_QUERY_CACHE_SIZE = 8


@dataclass(frozen=True)
class ItemQuery:
    """Which items a ``/v3/get`` call selects, before sorting and paging.

    ``statuses`` are the live statuses wanted (0 unread, 1 archived). With ``since``, items
    updated at or after it are selected and deleted/hidden ones come back as tombstones
    whatever the other filters say: a client syncing a filtered view must still learn
    about deletions.
    """

    statuses: frozenset[int] = LIVE_STATUSES
    since: int | None = None
    favorite: int | None = None
    tag: str | None = None  # a tag name, or "_untagged_"
    content: int | None = None  # a profiles.ARTICLE / VIDEO / IMAGE bit
    search: str | None = None  # lower-cased substring of title or URL
    domain: str | None = None  # only honoured together with search, as Pocket did


class PageText(t.NamedTuple):
    """One page of ``list`` entries as JSON text (``"id":{...},...``) plus counts."""

    entries_json: str
    entry_count: int
    total: int


class _MaterializedItem:
    """An item with its own raw entry dict, highlights and cached JSON text."""

    __slots__ = ("_texts", "highlights", "raw")

    def __init__(self, raw: dict[str, t.Any], highlights: list[dict[str, t.Any]]) -> None:
        self.raw = raw
        self.highlights = highlights
        self._texts: dict[bool, EntryText] = {}

    def text(self, *, complete: bool) -> EntryText:
        """The item's entry text, of complete or simple detail; cached until changed."""
        cached = self._texts.get(complete)
        if cached is None:
            cached = self._texts[complete] = entry_text(self.raw, complete=complete)
        return cached

    def changed(self) -> None:
        """Forget the cached entry texts: the raw dict has changed."""
        self._texts.clear()


class Account:
    """The in-memory state of one Pocket user.

    Thread-safe; every change stamps ``time_updated`` with ``clock`` (a callable returning
    unix seconds).
    """

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or system_clock
        self._lock = threading.RLock()
        # One row per item, in insertion order.
        self._item_id = array("q")
        self._time_added = array("q")
        self._time_updated = array("q")
        self._status = bytearray()
        self._favorite = bytearray()
        self._content = bytearray()
        self._tagset = array("I")
        self._profile = array("i")  # index into _profiles; -1 once materialized
        self._highlight_count = bytearray()  # generated highlights of unmaterialized rows
        # Rows sorted by (time_added, item_id): the "oldest" order; "newest" reads it backwards.
        self._order = array("i")
        self._materialized: dict[int, _MaterializedItem] = {}
        self._profiles: list[Profile] = []
        self._tags = TagPool()
        # Item id -> row: a binary search while ids ascend with rows (always, unless a
        # test adds an item with a smaller explicit id), else this dict.
        self._row_by_id: dict[int, int] | None = None
        self._queries: dict[ItemQuery, array[int]] = {}

    # ------------------------------------------------------------------ bulk loading

    def load_generated(
        self,
        profiles: list[Profile],
        tags: TagPool,
        columns: dict[str, t.Any],
    ) -> None:
        """Package-internal: take over the columns built by the generator.

        Rows must come sorted by time_added with ascending ids; must be called on an
        empty account.
        """
        with self._lock:
            if self._item_id:
                msg = "load_generated() needs an empty account"
                raise RuntimeError(msg)
            self._profiles = profiles
            self._tags = tags
            self._item_id = columns["item_id"]
            self._time_added = columns["time_added"]
            self._time_updated = columns["time_updated"]
            self._status = columns["status"]
            self._favorite = columns["favorite"]
            self._tagset = columns["tagset"]
            self._profile = columns["profile"]
            self._highlight_count = columns["highlight_count"]
            self._content = bytearray(profiles[p].content for p in self._profile)
            self._order = array("i", range(len(self._item_id)))
            self._changed()

    # ------------------------------------------------------------------ mutations

    def add_item(
        self, url: str, title: str = "", tags: t.Iterable[str] = (), **fields: t.Any
    ) -> str:
        """Save a new unread item; returns its item_id.

        ``fields`` override any raw entry field (``status="1"``, ``favorite=1``,
        ``time_added=...``, ``item_id="123"``, ``authors={...}``, ``lang=""``, ...).
        """
        with self._lock:
            now = self.clock()
            item_id = self._new_item_id(fields.pop("item_id", None))
            raw = _new_raw_entry(item_id, url, title, now)
            _apply_fields(raw, {"tags": list(tags), **fields}, now)
            if "time_updated" not in fields:  # an item saved "in the future" is updated then
                raw["time_updated"] = str(max(now, int(raw["time_added"])))
            self._append_row(_MaterializedItem(raw, []))
            return item_id

    def update_item(self, item_id: str, **fields: t.Any) -> None:
        """Change raw fields of an item and stamp ``time_updated`` (unless given).

        ``fields``: ``given_title``, ``favorite``, ``tags`` as a list of names, ``status``, ...
        """
        with self._lock:
            row = self._row(item_id)
            item = self._materialize(row)
            now = self.clock()
            _apply_fields(item.raw, fields, now)
            if "time_updated" not in fields:
                item.raw["time_updated"] = str(now)
            self._item_changed(row, item)

    def overwrite_fields(self, item_id: str, **fields: t.Any) -> None:
        """Set raw fields verbatim, stamping nothing.

        For fixtures with Pocket's quirks (``time_read="2020"``, ``lang=None``, an
        ``amp_url``).
        """
        with self._lock:
            row = self._row(item_id)
            item = self._materialize(row)
            item.raw.update({name: normalize_field(name, v) for name, v in fields.items()})
            self._item_changed(row, item)

    def archive_item(self, item_id: str) -> None:
        """Archive an item: status "1", stamping time_read."""
        self.update_item(item_id, status=ARCHIVED)

    def unarchive_item(self, item_id: str) -> None:
        """Move an item back to the unread list (Pocket's "readd")."""
        self.update_item(item_id, status=UNREAD)

    def delete_item(self, item_id: str) -> None:
        """Delete an item: status "2", reported as a tombstone by ``since`` syncs."""
        self.update_item(item_id, status=DELETED)

    def hide_item(self, item_id: str) -> None:
        """Hide an item: status "3", reported like a deletion."""
        self.update_item(item_id, status=HIDDEN)

    def add_highlight(self, item_id: str, quote: str) -> str:
        """Highlight a passage of an item; returns the annotation_id."""
        with self._lock:
            row = self._row(item_id)
            item = self._materialize(row)
            now = self.clock()
            annotation_id = str(
                uuid.uuid5(_ANNOTATION_NAMESPACE, f"{item_id}/{len(item.highlights)}/{quote}")
            )
            position = max(0, str(item.raw.get("excerpt", "")).find(quote))
            item.highlights.append(
                {
                    "annotation_id": annotation_id,
                    "item_id": item_id,
                    "quote": quote,
                    "patch": annotation_patch(quote, position),
                    "version": "2",
                    "created_at": iso_utc(now),
                }
            )
            item.raw["time_updated"] = str(now)
            self._item_changed(row, item)
            return annotation_id

    # ------------------------------------------------------------------ read helpers

    def item(self, item_id: str, *, annotations: bool = False) -> dict[str, t.Any]:
        """The complete raw entry of an item whatever its status.

        It has no ``sort_id`` (a page position), and ``annotations`` when asked and the item
        has highlights, as ``annotations=1`` would send them. Raises KeyError for unknown
        ids.
        """
        with self._lock:
            return self._raw_entry(self._row(item_id), annotations=annotations)

    def live_items(self, *, annotations: bool = False) -> list[dict[str, t.Any]]:
        """Every unread and archived item's complete raw entry (see :meth:`item`).

        Newest first: the order of a default ``/v3/get`` walk.
        """
        with self._lock:
            rows = self._select(ItemQuery())
            return [self._raw_entry(row, annotations=annotations) for row in reversed(rows)]

    def live_count(self) -> int:
        """How many unread plus archived items there are (cheap, unlike live_items)."""
        with self._lock:
            return len(self._select(ItemQuery()))

    def deleted_ids(self) -> set[str]:
        """Ids of items gone from the list: deleted ("2") or hidden ("3")."""
        with self._lock:
            status, gone = self._status, FIRST_GONE_STATUS
            return {str(self._item_id[row]) for row in range(len(status)) if status[row] >= gone}

    # ------------------------------------------------------------------ /v3/get

    def page(  # noqa: PLR0913 - keyword-only: the parameters of one /v3/get page
        self,
        query: ItemQuery,
        *,
        newest_first: bool,
        offset: int,
        count: int,
        complete: bool,
        annotations: bool,
    ) -> PageText:
        """The selected items' entries for one page, as JSON text in sort order."""
        with self._lock:
            rows = self._select(query)
            total = len(rows)
            if newest_first:
                end = max(total - offset, 0)
                page_rows = rows[max(end - count, 0) : end][::-1]
            else:
                page_rows = rows[offset : offset + count]
            parts = self._render(page_rows, complete=complete, annotations=annotations)
            return PageText(",".join(parts), len(page_rows), total)

    def _render(self, rows: t.Sequence[int], *, complete: bool, annotations: bool) -> list[str]:
        """``"item_id":{entry}`` for each row, ``sort_id`` being its position in ``rows``.

        This runs for every item served, so it is one loop with everything it touches bound
        to locals, and a generated item's entry is a single f-string.
        """
        item_ids, status_of, profile_of = self._item_id, self._status, self._profile
        added_of, updated_of, favorite_of = self._time_added, self._time_updated, self._favorite
        tagset_of, profiles, tag_parts = self._tagset, self._profiles, self._tags.json_parts
        untagged, highlight_count, gone = TagPool.UNTAGGED, self._highlight_count, FIRST_GONE_STATUS
        out: list[str] = []
        for sort_id, row in enumerate(rows):
            number = item_ids[row]
            item_id = str(number)
            status = status_of[row]
            if status >= gone:
                out.append(f'"{item_id}":{tombstone_text(item_id, str(status))}')
                continue
            if profile_of[row] < 0:
                item = self._materialized[row]
                extra = annotations_text(item.highlights) if annotations else ""
                out.append(f'"{item_id}":{item.text(complete=complete).render(sort_id, extra)}')
                continue
            profile = profiles[profile_of[row]]
            resolved_id = str(number + RESOLVED_ID_OFFSET) if profile.redirects else item_id
            added, updated, favorite = added_of[row], updated_of[row], favorite_of[row]
            # Pocket stamped time_read when an item was archived and kept it there.
            time_read = updated if status == 1 else 0
            time_favorited = (added + updated) // 2 if favorite else 0
            extras = ""
            if complete:
                tagset = tagset_of[row]
                if tagset != untagged:
                    extras = item_id.join(tag_parts(tagset))
                elif profile.empty_tags_object:
                    extras = ',"tags":{}'
                extras += resolved_id.join(profile.media_parts)
            if annotations and highlight_count[row]:
                extras += self._generated_annotations(row)
            out.append(
                f'"{item_id}":{{"item_id":"{item_id}","resolved_id":"{resolved_id}",'
                f'"given_url":"{profile.given_url_prefix}{item_id}{profile.given_url_suffix}",'
                f'"given_title":{profile.given_title_json},"favorite":"{favorite}",'
                f'"status":"{status}","time_added":"{added}","time_updated":"{updated}",'
                f'"time_read":"{time_read}","time_favorited":"{time_favorited}",'
                f'"sort_id":{sort_id},"resolved_title":{profile.resolved_title_json},'
                f'"resolved_url":"{profile.resolved_url_prefix}{item_id}'
                f'{profile.resolved_url_suffix}"{profile.meta_json}{extras}'
                f"{profile.listen_json}}}"
            )
        return out

    # ------------------------------------------------------------------ selection

    def _select(self, query: ItemQuery) -> array[int]:
        """Rows matching ``query`` in oldest-first order; cached until the next change.

        Kept as a compact array: for a million items a list would cost ten times more.
        """
        rows = self._queries.get(query)
        if rows is None:
            rows = array("i", self._scan(query))
            if len(self._queries) >= _QUERY_CACHE_SIZE:
                self._queries.clear()
            self._queries[query] = rows
        return rows

    def _scan(self, query: ItemQuery) -> list[int]:
        status, order, gone = self._status, self._order, FIRST_GONE_STATUS
        wanted = bytes(sorted(query.statuses))
        tests = self._predicates(query)

        def wanted_live(row: int) -> bool:
            return status[row] in wanted and all(test(row) for test in tests)

        if query.since is not None:
            since, updated = query.since, self._time_updated
            return [
                row
                for row in order
                if updated[row] >= since and (status[row] >= gone or wanted_live(row))
            ]
        if tests:
            return [row for row in order if wanted_live(row)]
        if query.statuses == LIVE_STATUSES:  # the full-sync case, kept fast for big accounts
            return [row for row in order if status[row] < gone]
        return [row for row in order if status[row] in wanted]

    def _predicates(self, query: ItemQuery) -> list[t.Callable[[int], bool]]:
        """Row tests for the optional filters of a query."""
        tests: list[t.Callable[[int], bool]] = []
        if query.favorite is not None:
            favorite, wanted_favorite = self._favorite, query.favorite
            tests.append(lambda row: favorite[row] == wanted_favorite)
        if query.tag is not None:
            tests.append(self._tag_test(query.tag))
        if query.content is not None:
            content, bit = self._content, query.content
            tests.append(lambda row: bool(content[row] & bit))
        if query.search:
            needle = query.search.lower()
            tests.append(lambda row: any(needle in text.lower() for text in self._texts(row)))
            if query.domain:
                domain = query.domain.lower()
                tests.append(lambda row: any(_on_domain(url, domain) for url in self._urls(row)))
        return tests

    def _tag_test(self, tag: str) -> t.Callable[[int], bool]:
        tagset, pool = self._tagset, self._tags
        if tag == "_untagged_":
            return lambda row: tagset[row] == TagPool.UNTAGGED
        matching = {index for index in range(len(pool)) if tag in pool.names(index)}
        return lambda row: tagset[row] in matching

    def _texts(self, row: int) -> tuple[str, ...]:
        """Titles and URLs a search matches against."""
        return (*self._titles(row), *self._urls(row))

    def _titles(self, row: int) -> tuple[str, str]:
        item = self._materialized.get(row)
        if item is not None:
            return str(item.raw.get("given_title") or ""), str(item.raw.get("resolved_title") or "")
        profile = self._profiles[self._profile[row]]
        return profile.given_title, profile.resolved_title

    def _urls(self, row: int) -> tuple[str, str]:
        item = self._materialized.get(row)
        if item is not None:
            return str(item.raw.get("given_url") or ""), str(item.raw.get("resolved_url") or "")
        profile, item_id = self._profiles[self._profile[row]], str(self._item_id[row])
        return profile.given_url(item_id), profile.resolved_url(item_id)

    # ------------------------------------------------------------------ generated rows

    def _generated_annotations(self, row: int) -> str:
        """The ``,"annotations":[...]`` member of an unmaterialized row, or ``""``.

        It is derived from the row's id and profile, so that a million items need not store
        highlights.
        """
        count = self._highlight_count[row]
        if not count:
            return ""
        profile = self._profiles[self._profile[row]]
        number = self._item_id[row]
        added, updated = self._time_added[row], self._time_updated[row]
        annotations = []
        for index in range(count):
            digest = hashlib.blake2b(f"{number}/{index}".encode(), digest_size=16).hexdigest()
            annotation_id = (  # shaped like the version-4 UUIDs Pocket used
                f"{digest[:8]}-{digest[8:12]}-4{digest[13:16]}-a{digest[17:20]}-{digest[20:]}"
            )
            created = added + (updated - added) * (index + 1) // (count + 1)
            quote = profile.quote_json[(number + index) % len(profile.quote_json)]
            annotations.append(
                f'{{"annotation_id":"{annotation_id}","item_id":"{number}",{quote},'
                f'"version":"2","created_at":"{iso_utc(created)}"}}'
            )
        return ',"annotations":[' + ",".join(annotations) + "]"

    def _generated_highlights(self, row: int) -> list[dict[str, t.Any]]:
        annotations = self._generated_annotations(row)
        if not annotations:
            return []
        return t.cast("list[dict[str, t.Any]]", json.loads(annotations[len(',"annotations":') :]))

    def _materialize(self, row: int) -> _MaterializedItem:
        """Give a generated row its own raw dict, so that it can be changed."""
        item = self._materialized.get(row)
        if item is None:
            raw = self._generated_raw(row)
            item = _MaterializedItem(raw, self._generated_highlights(row))
            self._materialized[row] = item
            self._profile[row] = -1
            self._highlight_count[row] = 0
        return item

    def _generated_raw(self, row: int) -> dict[str, t.Any]:
        """The complete raw entry of a generated row (no sort_id, no annotations)."""
        (entry,) = self._render([row], complete=True, annotations=False)
        (raw,) = json.loads("{" + entry + "}").values()
        del raw["sort_id"]
        return t.cast("dict[str, t.Any]", raw)

    def _raw_entry(self, row: int, *, annotations: bool) -> dict[str, t.Any]:
        item = self._materialized.get(row)
        if item is not None:
            raw, highlights = copy.deepcopy(item.raw), item.highlights
        else:
            raw, highlights = self._generated_raw(row), self._generated_highlights(row)
        if annotations and highlights:
            raw["annotations"] = copy.deepcopy(highlights)
        return raw

    # ------------------------------------------------------------------ row bookkeeping

    def _row(self, item_id: str) -> int:
        number = int(item_id)
        if self._row_by_id is not None:
            return self._row_by_id[number]
        ids = self._item_id
        row = bisect.bisect_left(ids, number)
        if row < len(ids) and ids[row] == number:
            return row
        raise KeyError(item_id)

    def _new_item_id(self, wanted: t.Any) -> str:
        if wanted is None:
            highest = max(self._item_id) if self._item_id else 0
            return str(max(highest, FIRST_ADDED_ITEM_ID) + 1)
        item_id = str(wanted)
        if not item_id.isdigit():
            msg = f"Pocket item ids are numeric strings, not {item_id!r}"
            raise ValueError(msg)
        if self._contains(int(item_id)):
            msg = f"item {item_id} already exists"
            raise ValueError(msg)
        return item_id

    def _contains(self, number: int) -> bool:
        try:
            self._row(str(number))
        except KeyError:
            return False
        return True

    def _append_row(self, item: _MaterializedItem) -> None:
        raw = item.raw
        number = int(raw["item_id"])
        row = len(self._item_id)
        if self._row_by_id is None and self._item_id and number < self._item_id[-1]:
            # Ids no longer ascend with rows: switch to a dict for lookups.
            self._row_by_id = {n: r for r, n in enumerate(self._item_id)}
        if self._row_by_id is not None:
            self._row_by_id[number] = row
        self._item_id.append(number)
        self._time_added.append(0)
        self._time_updated.append(0)
        self._status.append(0)
        self._favorite.append(0)
        self._content.append(0)
        self._tagset.append(TagPool.UNTAGGED)
        self._profile.append(-1)
        self._highlight_count.append(0)
        self._materialized[row] = item
        self._sync_columns(row, item)
        self._insert_in_order(row)
        self._changed()

    def _item_changed(self, row: int, item: _MaterializedItem) -> None:
        item.changed()
        old_added = self._time_added[row]
        self._sync_columns(row, item)
        if self._time_added[row] != old_added:
            self._order.remove(row)
            self._insert_in_order(row)
        self._changed()

    def _sync_columns(self, row: int, item: _MaterializedItem) -> None:
        """Copy the fields that queries filter and sort on from the raw dict."""
        raw = item.raw
        self._time_added[row] = int(raw["time_added"])
        self._time_updated[row] = int(raw["time_updated"])
        self._status[row] = int(raw["status"])
        self._favorite[row] = 1 if raw.get("favorite") == "1" else 0
        self._content[row] = content_bits(raw)
        self._tagset[row] = self._tags.intern(raw.get("tags") or ())

    def _insert_in_order(self, row: int) -> None:
        added, ids = self._time_added, self._item_id
        key = (added[row], ids[row])
        position = bisect.bisect_left(self._order, key, key=lambda r: (added[r], ids[r]))
        self._order.insert(position, row)

    def _changed(self) -> None:
        self._queries.clear()


# ---------------------------------------------------------------------- raw entry helpers


def _new_raw_entry(item_id: str, url: str, title: str, now: int) -> dict[str, t.Any]:
    """A freshly saved, resolved item: what Pocket sent for a plain article."""
    return {
        "item_id": item_id,
        "resolved_id": item_id,
        "given_url": url,
        "given_title": title,
        "favorite": "0",
        "status": UNREAD,
        "time_added": str(now),
        "time_updated": str(now),
        "time_read": "0",
        "time_favorited": "0",
        "resolved_title": title,
        "resolved_url": url,
        "excerpt": "",
        "is_article": "1",
        "is_index": "0",
        "has_video": "0",
        "has_image": "0",
        "word_count": "0",
        "lang": "en",
        "listen_duration_estimate": 0,
    }


def _apply_fields(raw: dict[str, t.Any], fields: dict[str, t.Any], now: int) -> dict[str, t.Any]:
    """Set fields on a raw entry the way Pocket would record the change; returns raw.

    Favoriting stamps time_favorited, archiving stamps time_read (unless those are given
    too); ``tags`` is a list of names.
    """
    for name, value in fields.items():
        if name == "tags":
            names = [str(tag) for tag in value or ()]
            if names:
                raw["tags"] = tags_object(str(raw["item_id"]), names)
            else:
                raw.pop("tags", None)
        elif name == "favorite":
            favorite = normalize_field(name, value)
            if favorite != raw.get("favorite") and "time_favorited" not in fields:
                raw["time_favorited"] = str(now) if favorite == "1" else "0"
            raw["favorite"] = favorite
        elif name == "status":
            _set_status(raw, value, now, stamp_time_read="time_read" not in fields)
        else:
            raw[name] = normalize_field(name, value)
    return raw


def _set_status(raw: dict[str, t.Any], value: t.Any, now: int, *, stamp_time_read: bool) -> None:
    """Set ``status``; archiving stamps time_read and unarchiving clears it, if asked to."""
    status = normalize_field("status", value)
    if status not in (UNREAD, ARCHIVED, DELETED, HIDDEN):
        msg = f"unknown item status {value!r}"
        raise ValueError(msg)
    if status != raw.get("status") and stamp_time_read:
        if status == ARCHIVED:
            raw["time_read"] = str(now)
        elif status == UNREAD:
            raw["time_read"] = "0"
    raw["status"] = status


def _on_domain(url: str, domain: str) -> bool:
    """Whether ``url``'s host is ``domain`` or one of its subdomains."""
    host = url.split("://", 1)[-1].split("/", 1)[0].split("?", 1)[0].lower()
    return host == domain or host.endswith("." + domain)
