"""Direct RECORD writing (tap_pocket.output): the same messages as the SDK's record path.

Each test runs a real sync twice, once as shipped and once with the direct path turned
off (the SDK's own per-record path), and compares every message; and checks that
whatever could change a row (deselected columns, stream maps, flattening) takes the
SDK's path.
"""

from __future__ import annotations

import itertools
import typing as t

import pytest
from singer_sdk import Stream

from pocket_emulator import FakeClock, PocketEmulator, generate_account
from tap_pocket.output import DirectRecordsStream
from tap_pocket.pages.batches import ITEMS_PER_CONTEXT

from .conftest import FIXTURES, SyncOutput, config_for, run_tap
from .test_items_api import TapCatalog

EXPORT = FIXTURES / "export" / "correlaid_pocketapi_get_53items_vignette.json"
CSV_EXPORT = FIXTURES / "export" / "pickpocket_ril_export_2020-08.html"


def without_extraction_times(output: SyncOutput) -> list[dict[str, t.Any]]:
    """The messages, less what differs between two runs of one sync.

    That is the moment records were extracted and the signpost (this machine's clock at
    the start).
    """
    messages = []
    for original in output.messages:
        message = dict(original)
        if message["type"] == "RECORD":
            assert message.pop("time_extracted").endswith("Z")
        if message["type"] == "STATE":
            for bookmark in message["value"].get("bookmarks", {}).values():
                bookmark.pop("replication_key_signpost", None)
        messages.append(message)
    return messages


def sdk_path_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(DirectRecordsStream, "writes_directly", lambda *_: False)


def direct_rows_written(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the streams whose rows went through the direct path in the next sync."""
    streams: list[str] = []
    original = DirectRecordsStream.write_records_directly

    def spy(self: DirectRecordsStream, writer: t.Any, context: t.Any) -> None:
        streams.append(self.name)
        original(self, writer, context)

    monkeypatch.setattr(DirectRecordsStream, "write_records_directly", spy)
    return streams


@pytest.mark.parametrize("export", [EXPORT, CSV_EXPORT], ids=["api-dump", "ril-html"])
def test_export_messages_equal_the_sdk_path(monkeypatch: pytest.MonkeyPatch, export: t.Any) -> None:
    # A STATE message every 7 rows, to compare the ones written in mid-stream too.
    monkeypatch.setattr(Stream, "STATE_MSG_FREQUENCY", 7)
    config = {"export_path": str(export)}
    used = direct_rows_written(monkeypatch)
    direct = run_tap(config)
    assert "items" in used
    sdk_path_only(monkeypatch)
    sdk = run_tap(config)

    assert direct.records["items"]
    kinds = [m["type"] for m in direct.messages]
    assert any(a == "STATE" and b == "RECORD" for a, b in itertools.pairwise(kinds))  # mid-stream
    assert without_extraction_times(direct) == without_extraction_times(sdk)


def test_api_messages_equal_the_sdk_path(monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> None:
    """Items, tombstones and each page's highlights (the child stream), in the same order."""
    monkeypatch.setattr(Stream, "STATE_MSG_FREQUENCY", 25)
    account = generate_account(150, seed=3, clock=clock)
    for item_id in sorted(r["item_id"] for r in account.live_items())[:4]:
        account.delete_item(item_id)
    used = direct_rows_written(monkeypatch)
    runs = []
    for direct in (True, False):
        if not direct:
            sdk_path_only(monkeypatch)
        with PocketEmulator(account) as emulator:
            runs.append(run_tap(config_for(emulator, page_size=40)))
    direct_run, sdk_run = runs
    assert {"items", "highlights"} <= set(used)  # the child stream too, page by page

    assert direct_run.records["highlights"]
    assert sum(r["_sdc_deleted_at"] is not None for r in direct_run.records["items"]) == 4
    assert without_extraction_times(direct_run) == without_extraction_times(sdk_run)


def test_deselected_columns_take_the_sdk_path(monkeypatch: pytest.MonkeyPatch) -> None:
    config = {"export_path": str(EXPORT)}
    catalog = TapCatalog.selecting(config, {"items"})
    for entry in catalog["streams"]:
        for metadata in entry["metadata"]:
            if metadata["breadcrumb"] == ["properties", "excerpt"]:
                metadata["metadata"]["selected"] = False
    used = direct_rows_written(monkeypatch)
    output = run_tap(config, catalog=catalog)

    assert used == []
    assert output.records["items"]
    assert all("excerpt" not in row for row in output.records["items"])
    assert any("given_title" in row for row in output.records["items"])


def test_stream_maps_and_flattening_take_the_sdk_path(monkeypatch: pytest.MonkeyPatch) -> None:
    config = {
        "export_path": str(EXPORT),
        "stream_maps": {"items": {"title_upper": "given_title.upper() if given_title else None"}},
        "flattening_enabled": True,
        "flattening_max_depth": 1,
    }
    used = direct_rows_written(monkeypatch)
    output = run_tap(config)

    assert "items" not in used
    rows = output.records["items"]
    assert rows
    for row in rows:
        title = row["given_title"]
        assert row["title_upper"] == (title.upper() if title else None)
    assert any(row["title_upper"] for row in rows)
    assert any("image__src" in row for row in rows)


def test_writer_serializes_every_message_as_the_sdks_msgspec_writer() -> None:
    from datetime import datetime, timezone

    from singer_sdk.contrib.msgspec import MsgSpecWriter
    from singer_sdk.helpers._batch import BaseBatchFileEncoding, SDKBatchMessage
    from singer_sdk.singerlib import (
        ActivateVersionMessage,
        RecordMessage,
        SchemaMessage,
        StateMessage,
    )

    from tap_pocket.output import BufferedMsgSpecWriter
    from tap_pocket.rows import ITEM_SCHEMA

    when = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=timezone.utc)
    messages = [
        SchemaMessage("items", ITEM_SCHEMA, ["item_id"], ["time_updated"]),
        SchemaMessage("items", ITEM_SCHEMA, ["item_id"]),
        StateMessage({"bookmarks": {"items": {"replication_key_value": None, "x": [1, {}]}}}),
        RecordMessage("items", {"item_id": "1", "tags": [], "image": None}, time_extracted=when),
        RecordMessage("items", {"item_id": "1"}, version=3),
        ActivateVersionMessage("items", 3),
        SDKBatchMessage(
            "items", BaseBatchFileEncoding(format="jsonl", compression="gzip"), ["file:///tmp/a.gz"]
        ),
        SDKBatchMessage("items", BaseBatchFileEncoding(format="jsonl"), ["file:///tmp/a.gz"]),
    ]
    ours, sdks = BufferedMsgSpecWriter(), MsgSpecWriter()
    for message in messages:
        assert bytes(ours.serialize_message(message)) == bytes(sdks.serialize_message(message))


def test_garbage_collection_is_restored_after_a_sync_with_child_streams(
    monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> None:
    import gc

    account = generate_account(2 * ITEMS_PER_CONTEXT + 60, seed=4, clock=clock)
    threshold, frozen = gc.get_threshold(), gc.get_freeze_count()
    seen_inside: list[tuple[int, int]] = []
    original = DirectRecordsStream.write_records_directly

    def spy(self: DirectRecordsStream, writer: t.Any, context: t.Any) -> None:
        original(self, writer, context)
        # After each child's sync too, the outer sync's settings still hold.
        seen_inside.append((gc.get_threshold()[0], gc.get_freeze_count()))

    monkeypatch.setattr(DirectRecordsStream, "write_records_directly", spy)
    with PocketEmulator(account) as emulator:
        output = run_tap(config_for(emulator, page_size=100))
    assert output.records["highlights"]
    assert len(seen_inside) > 2  # items, and highlights once per batch of items
    assert all(gen0 > threshold[0] and frozen_now > frozen for gen0, frozen_now in seen_inside)
    assert gc.get_threshold() == threshold
    assert gc.get_freeze_count() == frozen
