"""The items and highlights streams over the v3 API, against the emulator on loopback."""

from __future__ import annotations

import time
import typing as t
from datetime import datetime

from jsonschema import Draft7Validator, FormatChecker

from pocket_emulator import PocketEmulator, generate_account
from tap_pocket.pages.batches import ITEMS_PER_CONTEXT
from tap_pocket.rows import HIGHLIGHT_SCHEMA, ITEM_SCHEMA
from tap_pocket.tap import TapPocket

from .conftest import config_for, run_cli, run_tap
from .support import item_record

if t.TYPE_CHECKING:
    from pathlib import Path

    from pocket_emulator import Account, FakeClock


def get_requests(emulator: PocketEmulator) -> list[dict[str, t.Any]]:
    return [params for method, path, params in emulator.requests if path == "/v3/get"]


def since_of(state: dict[str, t.Any], stream: str = "items") -> int:
    value = state["bookmarks"][stream]["replication_key_value"]
    return int(datetime.fromisoformat(value).timestamp())


def expected_ids(account: Account) -> set[str]:
    """Live items, plus the tombstones a since-sync reports for deleted/hidden ones."""
    return {raw["item_id"] for raw in account.live_items()} | set(account.deleted_ids())


def test_full_sync_returns_every_item_once_over_pages(
    emulator: PocketEmulator, account: Account, api_config: dict[str, t.Any]
) -> None:
    live = {raw["item_id"]: raw for raw in account.live_items()}
    assert len(live) >= 100

    output = run_tap(api_config)

    ids = output.ids()
    assert len(ids) == len(set(ids)), "an item was emitted twice"
    assert set(ids) == expected_ids(account)
    requests = get_requests(emulator)
    # one request per page of 30, plus the final empty page; nothing more
    pages = -(-len(ids) // 30)
    assert len(requests) == pages + 1 >= 5
    assert [r["offset"] for r in requests] == [30 * i for i in range(pages + 1)]
    assert all(r["since"] == 1 and r["count"] == 30 for r in requests)

    validator = Draft7Validator(ITEM_SCHEMA, format_checker=FormatChecker())
    rows = {r["item_id"]: r for r in output.records["items"]}
    for item_id, raw in live.items():
        row = rows[item_id]
        assert not list(validator.iter_errors(row)), item_id
        # sort_id is the position within its page, which only a page knows
        assert {**row, "sort_id": None} == item_record(raw), item_id
        assert isinstance(row["favorite"], bool)
        assert row["status"] in {"unread", "archived"}
    assert any(r["tags"] for r in rows.values())
    assert any(r["authors"] for r in rows.values())


def test_credentials_travel_only_in_the_body(
    emulator: PocketEmulator, api_config: dict[str, t.Any]
) -> None:
    run_tap({**api_config, "page_size": 100})
    for method, path, params in emulator.requests:
        assert method == "POST"
        assert "?" not in path
        assert params["consumer_key"] == api_config["consumer_key"]
    assert emulator.request_headers[-1]["Content-Type"] == "application/json; charset=UTF-8"
    assert emulator.request_headers[-1]["X-Accept"] == "application/json"


def test_incremental_sync_fetches_changes_and_tombstones(
    emulator: PocketEmulator, account: Account, clock: FakeClock, api_config: dict[str, t.Any]
) -> None:
    first = run_tap(api_config)
    bookmark = since_of(first.state)
    assert bookmark < clock()  # never past Pocket's clock at the start of the sync

    clock.advance(60)
    ids = sorted(r["item_id"] for r in account.live_items())
    updated, deleted = ids[:3], ids[3:5]
    for item_id in updated:
        account.update_item(item_id, given_title=f"retitled {item_id}")
    for item_id in deleted:
        account.delete_item(item_id)
    added = [account.add_item(f"https://example.com/new/{n}", title=f"new {n}") for n in range(2)]
    emulator.requests.clear()

    second = run_tap(api_config, state=first.state)

    assert all(r["since"] == bookmark for r in get_requests(emulator))
    rows = {r["item_id"]: r for r in second.records["items"]}
    # Exactly what changed, plus items whose time_updated sits on the bookmark itself
    # (a documented boundary re-read that upserts away).
    boundary = {
        r["item_id"]
        for r in first.records["items"]
        if since_of({"bookmarks": {"items": {"replication_key_value": r["time_updated"]}}})
        >= bookmark
    }
    assert set(rows) - boundary == set(updated) | set(deleted) | set(added)
    for item_id in updated:
        assert rows[item_id]["given_title"] == f"retitled {item_id}"
    for item_id in deleted:
        assert rows[item_id]["status"] == "deleted"
        assert rows[item_id]["_sdc_deleted_at"] is not None
    assert {rows[i]["given_url"] for i in added} == {
        f"https://example.com/new/{n}" for n in range(2)
    }
    assert since_of(second.state) > bookmark


def test_highlights_come_from_the_same_responses(
    emulator: PocketEmulator, account: Account, api_config: dict[str, t.Any]
) -> None:
    output = run_tap(api_config)
    requests = get_requests(emulator)
    assert all(r.get("annotations") == "1" for r in requests)
    assert len(requests) == -(-len(output.ids()) // 30) + 1  # no second pass for highlights

    expected = {
        a["annotation_id"]: raw["item_id"]
        for raw in account.live_items(annotations=True)
        for a in raw.get("annotations", [])
    }
    assert expected
    got = {h["highlight_id"]: h["item_id"] for h in output.records["highlights"]}
    assert got == expected
    validator = Draft7Validator(HIGHLIGHT_SCHEMA, format_checker=FormatChecker())
    for highlight in output.records["highlights"]:
        assert not list(validator.iter_errors(highlight))
        assert highlight["quote"]


def test_highlights_go_to_the_child_stream_once_per_batch_of_items(
    clock: FakeClock, tmp_path: Path
) -> None:
    """At page_size 30, one child sync per ITEMS_PER_CONTEXT items, not one per page.

    A child sync per page was four SDK log lines per 30 items, each relayed by Meltano.
    The highlights are exactly those of a page_size 5000 run, and each batch's highlights
    go out before the next batch's items are read.
    """
    account = generate_account(3 * ITEMS_PER_CONTEXT + 45, seed=11, clock=clock)
    expected = {
        a["annotation_id"]: raw["item_id"]
        for raw in account.live_items(annotations=True)
        for a in raw.get("annotations", [])
    }
    with PocketEmulator(account) as emulator:
        started = time.monotonic()
        small = run_cli(config=config_for(emulator, page_size=30), tmp_path=tmp_path)
        small_seconds = time.monotonic() - started
        big = run_cli(config=config_for(emulator, page_size=5000), tmp_path=tmp_path)
    assert small.returncode == big.returncode == 0, small.stderr + big.stderr
    for result in (small, big):
        got = {h["highlight_id"]: h["item_id"] for h in result.output.records["highlights"]}
        assert got == expected
    child_syncs = small.stderr.count("Beginning sync of 'highlights'")
    items = len(small.output.records["items"])
    # A batch closes at the first page end with ITEMS_PER_CONTEXT items or more.
    per_batch = -(-ITEMS_PER_CONTEXT // 30) * 30
    assert child_syncs == -(-items // per_batch), small.stderr
    # Progress, not a line per page (52 of them): the first page, then a line per 5 s,
    # however long the run took on a busy machine.
    assert small.stderr.count("Fetched page") <= 2 + small_seconds // 5
    # Highlights follow their batch: none waits for the end of the sync.
    order = [(m["stream"], m["record"]["item_id"]) for m in small.output.messages
             if m["type"] == "RECORD"]  # fmt: skip
    first_highlight = next(i for i, (stream, _) in enumerate(order) if stream == "highlights")
    assert first_highlight <= per_batch


def test_an_items_filter_drops_exactly_the_highlights_of_the_items_it_drops(
    account: Account, api_config: dict[str, t.Any]
) -> None:
    """The SDK syncs a parent row's children only when the stream map keeps the row."""
    config = {**api_config, "stream_maps": {"items": {"__filter__": "status == 'unread'"}}}
    output = run_tap(config)

    kept = {row["item_id"] for row in output.records["items"]}
    assert kept
    assert all(row["status"] == "unread" for row in output.records["items"])
    expected = {
        a["annotation_id"]
        for raw in account.live_items(annotations=True)
        if raw["item_id"] in kept
        for a in raw.get("annotations", [])
    }
    dropped = {
        a["annotation_id"]
        for raw in account.live_items(annotations=True)
        if raw["item_id"] not in kept
        for a in raw.get("annotations", [])
    }
    assert expected
    assert dropped  # the account has highlights on items the filter drops, too
    assert {h["highlight_id"] for h in output.records["highlights"]} == expected


def test_highlights_alone_fetch_without_items(
    emulator: PocketEmulator, api_config: dict[str, t.Any]
) -> None:
    catalog = TapCatalog.selecting(api_config, {"highlights"})
    output = run_tap(api_config, catalog=catalog)
    assert not output.records["items"]
    assert output.records["highlights"]
    assert all(r.get("detailType") == "simple" for r in get_requests(emulator))


def test_filters_are_sent_as_pocket_parameters(
    emulator: PocketEmulator, api_config: dict[str, t.Any]
) -> None:
    config = {
        **api_config,
        "state": "unread",
        "favorite": False,
        "tag": "_untagged_",
        "content_type": "article",
        "detail_type": "simple",
        "page_size": 5000,
    }
    output = run_tap(config)
    (first, *_rest) = get_requests(emulator)
    assert first["state"] == "unread"
    assert first["favorite"] == "0"
    assert first["tag"] == "_untagged_"
    assert first["contentType"] == "article"
    assert first["detailType"] == "simple"
    assert first["count"] == 5000
    rows = [r for r in output.records["items"] if r["status"] != "deleted"]
    assert rows
    assert all(r["status"] == "unread" and not r["tags"] for r in rows)


class TapCatalog:
    @staticmethod
    def selecting(config: dict[str, t.Any], streams: set[str]) -> dict[str, t.Any]:
        """The tap's own catalog with only ``streams`` selected."""
        catalog = TapPocket(config=config, parse_env_config=False).catalog_dict
        for entry in catalog["streams"]:
            for metadata in entry["metadata"]:
                if metadata["breadcrumb"] == []:
                    metadata["metadata"]["selected"] = entry["tap_stream_id"] in streams
        return catalog
