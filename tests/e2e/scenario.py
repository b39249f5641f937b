"""The scenario every loader goes through: a full sync, changes in Pocket, an incremental one.

1. ``meltano run tap-pocket <loader>`` against the emulator: the destination holds one row
   per live item, with the account's values (titles, tags, favorites, statuses,
   timestamps), and one row per highlight.
2. The account changes a day later: titles, tags and favorites edited, items archived,
   added, deleted and hidden, a highlight added.
3. The same command again: Meltano hands the tap the state of run 1, every request
   carries ``since`` (the bookmark), the tap emits only what changed, and the
   destination is updated in place: new values, deleted and hidden items kept as rows
   flagged by ``_sdc_deleted_at``, no duplicate ``item_id``.

Each loader test gives a :class:`Reader` that reads what landed, normalised to
:class:`Row` so that the same expectations apply to every destination.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass
from datetime import datetime, timezone

if t.TYPE_CHECKING:
    from .conftest import Meltano, MeltanoResult, Pocket

DAY = 86_400
#: A ``since`` below this (2000-01-01) asks for the whole library.
FULL_SYNC_SINCE = 946_684_800
_EARLIEST, _LATEST = 946_684_800, 4_102_444_800
STATUS_NAMES = {"0": "unread", "1": "archived", "2": "deleted", "3": "hidden"}


@dataclass(frozen=True)
class Row:
    """The columns compared across destinations."""

    item_id: str
    given_title: str | None
    tags: tuple[str, ...] | None
    favorite: bool | None
    status: str | None
    time_added: datetime | None
    time_updated: datetime | None
    deleted: bool


class Reader(t.Protocol):
    def items(self) -> list[Row]: ...

    def highlight_ids(self) -> list[str]: ...


def utc(value: t.Any) -> datetime | None:
    """A destination's timestamp (naive UTC, aware, or ISO 8601 text) as aware UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def _pocket_time(value: t.Any) -> datetime | None:
    try:
        seconds = int(str(value))
    except (TypeError, ValueError):
        return None
    if not _EARLIEST <= seconds < _LATEST:
        return None
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


def expected_row(raw: dict[str, t.Any]) -> Row:
    """What the destination must hold for one of the emulator's raw entries."""
    status = STATUS_NAMES[str(raw["status"])]
    if status in {"deleted", "hidden"}:
        return Row(str(raw["item_id"]), None, None, None, status, None, None, deleted=True)
    tags = raw.get("tags") or {}
    names = (
        sorted(str(entry.get("tag", name)) for name, entry in tags.items())
        if isinstance(tags, dict)
        else sorted(str(tag) for tag in tags)
    )
    return Row(
        item_id=str(raw["item_id"]),
        given_title=raw.get("given_title"),
        tags=tuple(names),
        favorite=str(raw.get("favorite")) == "1",
        status=status,
        time_added=_pocket_time(raw.get("time_added")),
        time_updated=_pocket_time(raw.get("time_updated")),
        deleted=False,
    )


def comparable(row: Row, *, empty_text_is_null: bool = False) -> Row:
    """A landed row as compared: tombstones keep only id, status and the flag."""
    if row.deleted:
        return Row(
            row.item_id,
            row.given_title,
            row.tags or None,
            row.favorite,
            row.status,
            row.time_added,
            None,
            deleted=True,
        )
    title = row.given_title
    if empty_text_is_null and title is None:
        title = ""
    return Row(
        row.item_id,
        title,
        tuple(row.tags or ()),
        row.favorite,
        row.status,
        row.time_added,
        row.time_updated,
        deleted=False,
    )


def expected_rows(pocket: Pocket, *, empty_text_is_null: bool = False) -> dict[str, Row]:
    account = pocket.account
    rows = {}
    for raw in account.live_items():
        row = expected_row(raw)
        if empty_text_is_null and not row.given_title:
            row = Row(**{**row.__dict__, "given_title": ""})
        rows[row.item_id] = row
    for item_id in account.deleted_ids():
        rows[item_id] = expected_row(account.item(item_id))
    return rows


def expected_highlight_ids(pocket: Pocket) -> set[str]:
    return {
        str(annotation["annotation_id"])
        for raw in pocket.account.live_items()
        for annotation in raw.get("annotations") or ()
    }


def assert_landed(reader: Reader, pocket: Pocket, *, empty_text_is_null: bool = False) -> None:
    landed = reader.items()
    ids = [row.item_id for row in landed]
    assert len(ids) == len(set(ids)), "duplicate item_id rows"
    expected = expected_rows(pocket, empty_text_is_null=empty_text_is_null)
    got = {row.item_id: comparable(row, empty_text_is_null=empty_text_is_null) for row in landed}
    assert set(got) == set(expected), (
        f"missing {sorted(set(expected) - set(got))[:5]}, "
        f"extra {sorted(set(got) - set(expected))[:5]}"
    )
    wrong = [(got[i], expected[i]) for i in expected if got[i] != expected[i]]
    assert not wrong, f"{len(wrong)} rows differ, e.g. landed {wrong[0][0]} expected {wrong[0][1]}"
    live = [row for row in landed if not row.deleted]
    assert len(live) == pocket.account.live_count()
    highlight_ids = reader.highlight_ids()
    assert len(highlight_ids) == len(set(highlight_ids)), "duplicate highlight_id rows"
    assert set(highlight_ids) >= expected_highlight_ids(pocket)


@dataclass
class Changes:
    """What :func:`change_account` did, by item id."""

    edited: list[str]
    archived: list[str]
    added: list[str]
    deleted: list[str]
    hidden: list[str]
    highlighted: str
    new_highlight_id: str

    @property
    def touched(self) -> set[str]:
        return {
            *self.edited,
            *self.archived,
            *self.added,
            *self.deleted,
            *self.hidden,
            self.highlighted,
        }


def change_account(pocket: Pocket) -> Changes:
    """A day later, the user edits, archives, saves, deletes, hides and highlights."""
    account = pocket.account
    pocket.clock.advance(DAY)
    live = sorted(account.live_items(), key=lambda raw: int(raw["item_id"]))
    unread = [raw for raw in live if str(raw["status"]) == "0"]
    edited = [str(raw["item_id"]) for raw in live[10:14]]
    account.update_item(edited[0], given_title="Renamed: a better title, with “quotes”")
    account.update_item(edited[1], tags=["e2e", "renamed tag", "python"])
    account.update_item(edited[2], favorite=str(1 - int(live[12]["favorite"])))
    account.update_item(edited[3], given_title="Ünïcödé title 🎉", tags=[])
    archived = [str(unread[-1]["item_id"])]
    account.archive_item(archived[0])
    added = [
        account.add_item("https://example.org/e2e/one", title="Added one", tags=["e2e"]),
        account.add_item("https://example.org/e2e/two", title="Added two", favorite=1),
        account.add_item("https://www.example.com/e2e/three?a=1&b=2", title="Added, three"),
    ]
    deleted = [str(raw["item_id"]) for raw in live[20:22]]
    for item_id in deleted:
        account.delete_item(item_id)
    hidden = [str(live[30]["item_id"])]
    account.hide_item(hidden[0])
    highlighted = str(live[40]["item_id"])
    new_highlight_id = account.add_highlight(highlighted, "A passage worth keeping.")
    return Changes(edited, archived, added, deleted, hidden, highlighted, new_highlight_id)


def bookmark_seconds(state: dict[str, t.Any], stream: str) -> int:
    value = state["bookmarks"][stream]["replication_key_value"]
    moment = utc(value)
    assert moment is not None
    return int(moment.timestamp())


def get_requests(pocket: Pocket, start: int = 0) -> list[t.Any]:
    return [r for r in pocket.emulator.requests[start:] if r.path == "/v3/get"]


@dataclass
class TwoRuns:
    first: MeltanoResult
    second: MeltanoResult
    changes: Changes
    #: Items the second run had to emit: everything changed since the bookmark.
    expected_second_items: set[str]


def run_twice(
    meltano: Meltano,
    pocket: Pocket,
    loader: str,
    reader: Reader,
    *,
    empty_text_is_null: bool = False,
    before_second_run: t.Callable[[], None] | None = None,
    **loader_env: str,
) -> TwoRuns:
    env = {**pocket.tap_env(), **loader_env}
    state_id = f"mine:tap-pocket-to-{loader}"

    first = meltano.run("tap-pocket", loader, **env)
    first_requests = get_requests(pocket)
    assert first_requests, "the tap sent no /v3/get request"
    # A first run is a full sync: no since, or a since before Pocket existed.
    assert all(int(r.params.get("since") or 0) < FULL_SYNC_SINCE for r in first_requests)
    assert_landed(reader, pocket, empty_text_is_null=empty_text_is_null)
    state = meltano.state(state_id)
    since = bookmark_seconds(state, "items")
    assert first.record_counts().get("items") == pocket.account.live_count()

    seen = len(pocket.emulator.requests)
    changes = change_account(pocket)
    if before_second_run is not None:
        before_second_run()
    second = meltano.run("tap-pocket", loader, **env)

    # Meltano passed run 1's state: every request is an incremental one.
    second_requests = get_requests(pocket, seen)
    assert second_requests
    assert all(int(r.params.get("since") or 0) > 0 for r in second_requests)
    item_requests = [r for r in second_requests if r.params.get("detailType") == "complete"]
    assert item_requests, "no items request in the second run"
    assert {int(r.params["since"]) for r in item_requests} == {since}

    # Only what changed since the bookmark was fetched and loaded.
    account = pocket.account
    everything = [str(raw["item_id"]) for raw in account.live_items()]
    everything += sorted(account.deleted_ids())
    expected_second = {
        item_id for item_id in everything if int(account.item(item_id)["time_updated"]) >= since
    }
    assert changes.touched <= expected_second
    assert len(expected_second) < len(changes.touched) + 5, "since should skip the unchanged"
    assert second.record_counts().get("items") == len(expected_second)

    assert_landed(reader, pocket, empty_text_is_null=empty_text_is_null)
    assert changes.new_highlight_id in reader.highlight_ids()
    landed = {row.item_id: row for row in reader.items()}
    for item_id in changes.deleted + changes.hidden:
        assert landed[item_id].deleted, f"{item_id} should be flagged by _sdc_deleted_at"
    for item_id in changes.added + changes.edited + changes.archived:
        assert not landed[item_id].deleted

    # The state moved on with the changes.
    later = meltano.state(state_id)
    assert bookmark_seconds(later, "items") > since
    return TwoRuns(first, second, changes, expected_second)
