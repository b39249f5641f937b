"""Conformance: the fast output path writes what singer-sdk's own path writes.

It does so for every combination a user can configure (issue #12, item 3).

``tap_pocket.output.DirectRecordsStream`` encodes rows straight into RECORD lines (and
the export streams write BATCH files straight from their rows) when it decides that
nothing could change a row. That decision is only safe if, for every setting a user can
reach, the messages are the ones the SDK would have written. Each row of :data:`CASES`
is one such setting; each runs on three sources:

- ``zip``: an export zip (``demo/pocket.zip``: 30 links, 9 highlights, sparse CSV rows);
- ``dump``: a saved ``/v3/get`` response with annotations (karlicoss, 2025);
- ``api``: the Pocket API emulator (70 items over pages of 25, 3 tombstones, highlights
  as a child stream of items, synced page by page).

Every cell syncs twice: as shipped (the fast path wherever the tap chooses it) and with
``DirectRecordsStream.writes_directly`` forced off (the SDK's ``Stream._sync_records``
and ``Stream.get_batches`` for every stream). The messages must be equal after JSON
decoding, except ``time_extracted``, the replication-key signpost (both the wall clock)
and the value of ``version`` (the tap's start-up second: mapped to its order of first
appearance); BATCH manifests are compared by the rows their files hold, in order, not by
their random names. ``Stream.STATE_MSG_FREQUENCY`` is small, so the STATE messages
written in mid-stream are compared too.

Each cell also asserts which path really ran, so that it cannot pass by both runs taking
the SDK's path: the streams in ``Case.direct`` must be written by
``DirectRecordsStream.write_records_directly`` in the first run, no stream may be in the
second, and in BATCH mode the export streams must skip the SDK's ``Stream.get_batches``
in the first run (jsonl) and use it in the second. And each case checks, on the SDK
path's output, that its setting took effect (the renamed column is there, filtered rows
are missing, ACTIVATE_VERSION is written, batch files exist...), so that a setting that
both paths silently ignore fails as well.

The table: stream selection (default, both, items only, highlights only) and column
deselection; stream maps (rename, ``__NULL__`` drop, ``__filter__``, ``md5()`` and
hash expressions, ``__alias__``, ``__source__``, ``__else__: __NULL__`` for streams and
for properties); flattening; FULL_TABLE (as Meltano's ``replication-method`` metadata
sets it) with and without ``emit_activate_version_messages``; INCREMENTAL without and
with an input bookmark; child streams (every ``api`` cell); a dry run
(``Tap.run_sync_dry_run``) and ``--test`` (``Tap.cb_test`` builds the tap from the
config alone and calls ``run_connection_test``, which this calls in process so the spies
see it); BATCH with jsonl (gzip, none) and parquet.

A stream map's ``__filter__`` on ``items`` drops the highlights of the items it drops on
every path (issue #20, item 5): the matrix checks it per source, with and without
``items`` selected, and :func:`test_an_items_filter_keeps_the_same_highlights_on_every_path`
reads one library through the API, its dump and its export zip and finds the same
highlights.
"""

from __future__ import annotations

import copy
import csv
import difflib
import gzip
import hashlib
import io
import itertools
import json
import typing as t
import zipfile
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest
from singer_sdk import Stream

from pocket_emulator import PocketEmulator, generate_account
from tap_pocket.export import normalise_url
from tap_pocket.tap import TapPocket

from .conftest import FIXTURES, ROOT, SyncOutput, config_for, parse_messages, run_tap
from .test_items_api import TapCatalog
from .test_output import direct_rows_written, sdk_path_only, without_extraction_times

if t.TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from pocket_emulator import FakeClock

STREAMS = frozenset({"items", "highlights"})
NONE: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Source:
    """Where the tap reads from, and how often it writes STATE there."""

    name: str
    config: dict[str, t.Any]
    #: Stream.STATE_MSG_FREQUENCY for this source: small enough for mid-stream STATEs.
    state_every: int

    @property
    def export(self) -> bool:
        return "export_path" in self.config


#: A case's proof that its setting took effect: (SDK path's output, default run, source).
Check = t.Callable[[SyncOutput, SyncOutput, Source], None]


@dataclass(frozen=True)
class Case:
    """One configuration a user can set, and what it must look like."""

    name: str
    check: Check
    #: Streams whose RECORDs the fast run must write directly (on every source).
    direct: frozenset[str] = STREAMS
    settings: Mapping[str, t.Any] = field(default_factory=dict)
    #: With a catalog, the streams it selects; None: no catalog (the tap's default).
    select: frozenset[str] | None = None
    #: Columns the catalog deselects, by stream.
    deselect: Mapping[str, str] = field(default_factory=dict)
    #: The replication method the catalog sets (as Meltano's metadata does).
    replication: str | None = None
    #: Start from an input state with a bookmark in the middle of the data.
    bookmark: bool = False
    #: Tap.run_sync_dry_run(dry_run_record_limit=...) instead of a full sync.
    dry_run: int | None = None
    #: ``--test``: Tap.run_connection_test() on a tap built from the config alone.
    connection_test: bool = False
    #: BATCH mode: (format, compression).
    batch: tuple[str, str] | None = None


# Helpers -------------------------------------------------------------------------------


def sync(
    case: Case,
    config: dict[str, t.Any],
    state: dict[str, t.Any] | None,
    catalog: dict[str, t.Any] | None,
) -> SyncOutput:
    """One run of ``case``, each input copied.

    (The SDK pops keys such as ``__else__`` out of the stream maps it is given.)
    """
    config, state, catalog = copy.deepcopy((config, state, catalog))
    if case.dry_run is None and not case.connection_test:
        return run_tap(config, state=state, catalog=catalog)
    if case.connection_test:  # what Tap.cb_test does for --test
        tap = TapPocket(config=config, parse_env_config=False)
    else:
        tap = TapPocket(config=config, state=state, catalog=catalog, parse_env_config=False)
    # As run_tap: a text stdout over a binary buffer, which the msgspec writer uses.
    stdout = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    with redirect_stdout(stdout):
        if case.connection_test:
            tap.run_connection_test()
        else:
            tap.run_sync_dry_run(dry_run_record_limit=case.dry_run)
    stdout.flush()
    return parse_messages(stdout.buffer.getvalue().decode("utf-8"))


def catalog_for(case: Case, config: dict[str, t.Any]) -> dict[str, t.Any] | None:
    """The tap's discovered catalog with the case's selection and replication method."""
    if case.select is None and not case.deselect and case.replication is None:
        return None
    catalog = TapCatalog.selecting(config, set(case.select or STREAMS))
    for entry in catalog["streams"]:
        stream = entry["tap_stream_id"]
        for metadata in entry["metadata"]:
            if metadata["breadcrumb"] == ["properties", case.deselect.get(stream)]:
                metadata["metadata"]["selected"] = False
            if metadata["breadcrumb"] == [] and case.replication:
                metadata["metadata"]["replication-method"] = case.replication
        if case.replication:
            # Meltano's `metadata: {stream: {replication-method: ...}}` sets both the
            # metadata key and, "underscorized", the entry's own key, which the SDK reads.
            entry["replication_method"] = case.replication
    return catalog


def bookmark_state(base: SyncOutput) -> dict[str, t.Any]:
    """An input state whose bookmarks sit in the middle of each stream's data."""
    bookmarks = {}
    for stream, key in (("items", "time_updated"), ("highlights", "created_at")):
        values = sorted(when(row[key]) for row in base.records[stream] if row.get(key))
        middle = values[len(values) // 2]
        bookmarks[stream] = {"replication_key": key, "replication_key_value": middle.isoformat()}
    return {"bookmarks": bookmarks}


def when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def batch_file_rows(url: str) -> list[dict[str, t.Any]]:
    """The rows of one batch file, whatever its name says.

    (The SDK's jsonl batcher gzips even with ``compression: none``.)
    """
    path = Path(url.removeprefix("file://"))
    if ".parquet" in path.name:
        import pyarrow.parquet as pq  # only for the parquet case

        return t.cast("list[dict[str, t.Any]]", pq.read_table(path).to_pylist())
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return [json.loads(line) for line in data.splitlines()]


def batch_rows(output: SyncOutput, stream: str) -> list[dict[str, t.Any]]:
    return [
        row
        for message in output.messages
        if message["type"] == "BATCH" and message["stream"] == stream
        for url in message["manifest"]
        for row in batch_file_rows(url)
    ]


def comparable(output: SyncOutput) -> list[dict[str, t.Any]]:
    """The messages, less what differs between two runs of one sync.

    See the module's docstring; BATCH manifests become the rows of their files.
    """
    versions: dict[t.Any, str] = {}
    messages = []
    for message in without_extraction_times(output):
        if "version" in message:
            version = message["version"]
            message["version"] = versions.setdefault(version, f"<version {len(versions) + 1}>")
        if message["type"] == "BATCH":
            message["manifest"] = [batch_file_rows(url) for url in message["manifest"]]
        messages.append(message)
    return messages


def difference(fast: list[dict[str, t.Any]], sdk: list[dict[str, t.Any]]) -> str:
    """Where the fast path's messages first differ from the SDK path's, then a diff."""
    lines = [f"fast path: {len(fast)} messages, SDK path: {len(sdk)} messages"]
    for index, (ours, sdks) in enumerate(itertools.zip_longest(fast, sdk)):
        if ours != sdks:
            lines.append(f"first difference at message {index}:")
            lines += [f"  {change}" for change in changes(sdks, ours)]
            break
    # One line a message; whole messages compared, lines cut short only for display.
    text = [json.dumps(m, sort_keys=True, default=str) for m in sdk]
    ours_text = [json.dumps(m, sort_keys=True, default=str) for m in fast]
    diff = difflib.unified_diff(text, ours_text, "SDK path", "fast path", lineterm="", n=1)
    lines += [line[:300] for line in itertools.islice(diff, 30)]
    return "\n".join(lines)


def changes(sdk: t.Any, fast: t.Any, path: str = "") -> list[str]:
    """Where two messages differ: each differing leaf, by its path of keys."""
    if isinstance(sdk, dict) and isinstance(fast, dict):
        found = []
        for key in dict.fromkeys([*sdk, *fast]):
            a, b = sdk.get(key, "<missing>"), fast.get(key, "<missing>")
            if a != b:
                found += changes(a, b, f"{path}.{key}" if path else str(key))
        return found
    return [f"{path or 'message'}: SDK path {str(sdk)[:150]} / fast path {str(fast)[:150]}"]


def sdk_batches_written(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the streams whose batches the SDK's own ``Stream.get_batches`` writes.

    In the next sync; the export streams' fast writer does not call it.
    """
    streams: list[str] = []
    original = Stream.get_batches

    def spy(self: Stream, batch_config: t.Any, context: t.Any = None) -> t.Any:
        streams.append(self.name)
        return original(self, batch_config, context)

    monkeypatch.setattr(Stream, "get_batches", spy)
    return streams


def schema_properties(output: SyncOutput, stream: str) -> dict[str, t.Any]:
    for message in output.messages:
        if message["type"] == "SCHEMA" and message["stream"] == stream:
            return t.cast("dict[str, t.Any]", message["schema"]["properties"])
    raise AssertionError(f"no SCHEMA message for {stream}")


def streams_of(output: SyncOutput, *kinds: str) -> set[str]:
    return {m["stream"] for m in output.messages if m["type"] in kinds and "stream" in m}


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - as the SDK's md5()


def kept(row: dict[str, t.Any], key: str) -> bool:
    """The ``__filter__`` of the filter case, in Python: about 2/3 of the rows pass."""
    return md5(row[key]) < "b"


# What proves each setting took effect (run on the SDK path's output) ---------------------


def check_default(out: SyncOutput, _base: SyncOutput, _source: Source) -> None:
    assert out.records["items"]
    assert out.records["highlights"]
    kinds = [m["type"] for m in out.messages]
    assert any(a == "STATE" and b == "RECORD" for a, b in itertools.pairwise(kinds))
    assert "bookmarks" in out.state


def check_same_rows(out: SyncOutput, base: SyncOutput, _source: Source) -> None:
    assert out.records == base.records


def check_items_only(out: SyncOutput, base: SyncOutput, _source: Source) -> None:
    assert "highlights" not in streams_of(out, "SCHEMA", "RECORD")
    assert out.records["items"] == base.records["items"]


def check_highlights_only(out: SyncOutput, base: SyncOutput, _source: Source) -> None:
    assert "items" not in streams_of(out, "SCHEMA", "RECORD")
    assert out.records["highlights"] == base.records["highlights"]


def check_deselected(out: SyncOutput, base: SyncOutput, _source: Source) -> None:
    for stream, column in (("items", "given_title"), ("highlights", "quote")):
        assert any(column in row for row in base.records[stream])
        assert out.records[stream]
        assert not any(column in row for row in out.records[stream])
        assert column not in schema_properties(out, stream)


def check_renamed(out: SyncOutput, base: SyncOutput, _source: Source) -> None:
    for stream, old, new in (("items", "given_title", "title"), ("highlights", "quote", "text")):
        rows = out.records[stream]
        assert [row[new] for row in rows] == [row.get(old) for row in base.records[stream]]
        assert any(row[new] for row in rows)
        assert not any(old in row for row in rows)
        assert new in schema_properties(out, stream)
        assert old not in schema_properties(out, stream)


def check_dropped(out: SyncOutput, base: SyncOutput, _source: Source) -> None:
    assert any(row.get("tags") for row in base.records["items"])
    assert len(out.records["items"]) == len(base.records["items"])
    assert not any("tags" in row for row in out.records["items"])
    assert "tags" not in schema_properties(out, "items")
    assert out.records["highlights"] == base.records["highlights"]


def check_filtered(out: SyncOutput, base: SyncOutput, source: Source) -> None:
    items = [row for row in base.records["items"] if kept(row, "item_id")]
    assert 0 < len(items) < len(base.records["items"])
    assert out.records["items"] == items
    # Each highlight its own filter keeps, unless the items filter drops its item.
    highlights = [row for row in base.records["highlights"] if kept(row, "highlight_id")]
    assert 0 < len(highlights) < len(base.records["highlights"])
    assert out.records["highlights"] == highlights_of(items, highlights)
    if source.name != "dump":  # the dump's highlights are all on one item, which is kept
        assert len(out.records["highlights"]) < len(highlights)


def highlights_of(
    items: list[dict[str, t.Any]], highlights: list[dict[str, t.Any]]
) -> list[dict[str, t.Any]]:
    """The highlights whose item is one of ``items``, in their order."""
    kept_ids = {row["item_id"] for row in items}
    return [row for row in highlights if row["item_id"] in kept_ids]


def unread(row: dict[str, t.Any]) -> bool:
    """README's ``__filter__``, in Python."""
    return bool(row.get("status") == "unread")


def check_items_filtered(out: SyncOutput, base: SyncOutput, source: Source) -> None:
    """README's filter: the highlights of the items it drops are dropped with them.

    On every path alike: the API's (a child of items), the export zip's and the dump's.
    (The real dump's two items are both unread: it keeps all; the dump of a library
    with archived highlighted items is in
    :func:`test_an_items_filter_keeps_the_same_highlights_on_every_path`.)
    """
    items = [row for row in base.records["items"] if unread(row)]
    assert out.records["items"] == items
    assert out.records["highlights"] == highlights_of(items, base.records["highlights"])
    dropped = len(base.records["highlights"]) - len(out.records["highlights"])
    if source.name == "zip":  # the demo's 9 highlights all belong to archived items
        assert dropped == DEMO_HIGHLIGHTS
    elif source.name == "api":
        assert 0 < dropped < len(base.records["highlights"])


def check_items_filtered_highlights_only(out: SyncOutput, base: SyncOutput, source: Source) -> None:
    """The items filter applies to highlights when items are not selected, too."""
    assert "items" not in streams_of(out, "SCHEMA", "RECORD")
    items = [row for row in base.records["items"] if unread(row)]
    assert out.records["highlights"] == highlights_of(items, base.records["highlights"])
    if source.name != "dump":
        assert len(out.records["highlights"]) < len(base.records["highlights"])


def check_hashed(out: SyncOutput, base: SyncOutput, _source: Source) -> None:
    rows, base_rows = out.records["items"], base.records["items"]
    assert [row["item_id_md5"] for row in rows] == [md5(row["item_id"]) for row in base_rows]
    assert [row["given_url"] for row in rows] == [
        md5(row["given_url"]) if row.get("given_url") else None for row in base_rows
    ]
    assert any(row["given_url"] for row in rows)
    assert out.records["highlights"] == base.records["highlights"]


def check_aliased(out: SyncOutput, base: SyncOutput, _source: Source) -> None:
    assert "items" not in streams_of(out, "SCHEMA", "RECORD", "STATE")
    assert "saved_items" in streams_of(out, "SCHEMA")
    assert out.records["saved_items"] == base.records["items"]
    assert out.records["highlights"] == base.records["highlights"]


def check_new_stream(out: SyncOutput, base: SyncOutput, _source: Source) -> None:
    assert "items_copy" in streams_of(out, "SCHEMA")
    assert out.records["items_copy"] == base.records["items"]
    assert out.records["items"] == base.records["items"]
    assert out.records["highlights"] == base.records["highlights"]


def check_other_streams_dropped(out: SyncOutput, base: SyncOutput, _source: Source) -> None:
    assert "highlights" not in streams_of(out, "SCHEMA", "RECORD")
    assert out.records["items"] == base.records["items"]


def check_other_properties_dropped(out: SyncOutput, base: SyncOutput, _source: Source) -> None:
    rows = out.records["highlights"]
    assert rows
    assert all(set(row) == {"highlight_id", "text"} for row in rows)
    assert [row["text"] for row in rows] == [row.get("quote") for row in base.records["highlights"]]
    assert out.records["items"] == base.records["items"]


def check_flattened(out: SyncOutput, base: SyncOutput, source: Source) -> None:
    properties = schema_properties(out, "items")
    assert "image__src" in properties
    assert "image" not in properties
    assert len(out.records["items"]) == len(base.records["items"])
    for row in out.records["items"]:
        assert not any(isinstance(value, (dict, list)) for value in row.values()), row
    if source.name != "zip":  # CSV rows hold no objects
        assert any("domain_metadata__name" in row for row in out.records["items"])


def check_full_table(out: SyncOutput, base: SyncOutput, source: Source) -> None:
    assert out.records == base.records
    assert "ACTIVATE_VERSION" not in {m["type"] for m in out.messages}
    assert all("version" not in m for m in out.messages)
    for stream in STREAMS:  # no bookmark: a FULL_TABLE sync starts over every time
        # By default API streams are incremental; export streams are FULL_TABLE already.
        bookmark = base.state["bookmarks"].get(stream, {})
        assert ("replication_key_value" in bookmark) is not source.export, stream
        assert "replication_key_value" not in out.state["bookmarks"].get(stream, {})


def check_activate_version(out: SyncOutput, base: SyncOutput, _source: Source) -> None:
    assert out.records == base.records
    for stream in STREAMS:
        activations = [
            i
            for i, m in enumerate(out.messages)
            if m["type"] == "ACTIVATE_VERSION" and m["stream"] == stream
        ]
        records = [m for m in out.messages if m["type"] == "RECORD" and m["stream"] == stream]
        assert activations, stream
        version = out.messages[activations[0]]["version"]
        assert all(m.get("version") == version for m in records), stream
        first_record = next(
            i for i, m in enumerate(out.messages) if m["type"] == "RECORD" and m["stream"] == stream
        )
        assert activations[0] < first_record


def check_incremental(out: SyncOutput, base: SyncOutput, source: Source) -> None:
    assert out.records == base.records
    assert out.messages[0]["type"] == "SCHEMA"  # no input state to repeat
    for stream, key in (("items", "time_updated"), ("highlights", "created_at")):
        newest = max(when(row[key]) for row in base.records[stream] if row.get(key))
        bookmark = when(out.state["bookmarks"][stream]["replication_key_value"])
        # An API bookmark never passes the server's clock at the start of the sync.
        assert bookmark == newest if source.export else bookmark <= newest
        assert bookmark > min(when(row[key]) for row in base.records[stream] if row.get(key))


def check_bookmarked(out: SyncOutput, base: SyncOutput, source: Source) -> None:
    state = bookmark_state(base)
    assert out.messages[0] == {"type": "STATE", "value": state}  # the input, as given
    since = when(state["bookmarks"]["items"]["replication_key_value"])
    rows = out.records["items"]
    if source.export:  # an export is a snapshot: read whole, whatever the bookmark
        assert rows == base.records["items"]
    else:
        assert 0 < len(rows) < len(base.records["items"])
        assert all(when(row["time_updated"]) >= since for row in rows)
    assert when(out.state["bookmarks"]["items"]["replication_key_value"]) >= since


def check_dry_run(out: SyncOutput, base: SyncOutput, _source: Source) -> None:
    # The dump has 2 items: the limit shows on the other sources (and in test-flag).
    assert out.records["items"] == base.records["items"][:10]
    assert len(out.records["highlights"]) <= 10


def check_connection_test(out: SyncOutput, base: SyncOutput, _source: Source) -> None:
    assert out.records["items"] == base.records["items"][:1]
    assert len(out.records["highlights"]) <= 1


def check_batches(out: SyncOutput, base: SyncOutput, _source: Source) -> None:
    assert not out.records
    assert streams_of(out, "BATCH") == STREAMS
    assert batch_rows(out, "items") == base.records["items"]
    assert batch_rows(out, "highlights") == base.records["highlights"]


def check_parquet_batches(out: SyncOutput, base: SyncOutput, _source: Source) -> None:
    # Parquet gives every row every column of its batch: compare the ids.
    assert not out.records
    assert streams_of(out, "BATCH") == STREAMS
    for stream, key in (("items", "item_id"), ("highlights", "highlight_id")):
        assert [row[key] for row in batch_rows(out, stream)] == [
            row[key] for row in base.records[stream]
        ]


FULL_TABLE = "FULL_TABLE"
#: README's stream map: the unread items only.
README_FILTER = {"items": {"__filter__": 'status == "unread"'}}
DEMO_HIGHLIGHTS = 9
CASES = [
    Case("default", check_default),
    Case("select-both", check_same_rows, select=STREAMS),
    Case(
        "select-items", check_items_only, select=frozenset({"items"}), direct=frozenset({"items"})
    ),
    Case(
        "select-highlights",
        check_highlights_only,
        select=frozenset({"highlights"}),
        direct=frozenset({"highlights"}),
    ),
    Case(
        "deselect-columns",
        check_deselected,
        select=STREAMS,
        deselect={"items": "given_title", "highlights": "quote"},
        direct=NONE,
    ),
    Case(
        "map-rename",
        check_renamed,
        settings={
            "stream_maps": {
                "items": {"title": "given_title", "given_title": "__NULL__"},
                "highlights": {"text": "quote", "quote": "__NULL__"},
            }
        },
        direct=NONE,
    ),
    Case(
        "map-drop-null",
        check_dropped,
        settings={"stream_maps": {"items": {"tags": "__NULL__"}}},
        direct=frozenset({"highlights"}),
    ),
    Case(
        "map-filter",
        check_filtered,
        settings={
            "stream_maps": {
                "items": {"__filter__": "md5(item_id) < 'b'"},
                "highlights": {"__filter__": "md5(highlight_id) < 'b'"},
            }
        },
        direct=NONE,
    ),
    Case(
        "map-filter-items",
        check_items_filtered,
        settings={"stream_maps": README_FILTER},
        direct=frozenset({"highlights"}),
    ),
    Case(
        "map-filter-items-select-highlights",
        check_items_filtered_highlights_only,
        settings={"stream_maps": README_FILTER},
        select=frozenset({"highlights"}),
        direct=frozenset({"highlights"}),
    ),
    Case(
        "map-md5",
        check_hashed,
        settings={
            "stream_maps": {
                "items": {
                    "item_id_md5": "md5(item_id)",
                    "given_url": "md5(given_url) if given_url else None",
                }
            }
        },
        direct=frozenset({"highlights"}),
    ),
    Case(
        "map-alias",
        check_aliased,
        settings={"stream_maps": {"items": {"__alias__": "saved_items"}}},
        direct=frozenset({"highlights"}),
    ),
    Case(
        "map-source",
        check_new_stream,
        settings={"stream_maps": {"items_copy": {"__source__": "items"}}},
        direct=frozenset({"highlights"}),
    ),
    Case(
        "map-else-null-streams",
        check_other_streams_dropped,
        settings={"stream_maps": {"items": {}, "__else__": "__NULL__"}},
        direct=NONE,
    ),
    Case(
        "map-else-null-properties",
        check_other_properties_dropped,
        settings={
            "stream_maps": {
                "highlights": {
                    "highlight_id": "highlight_id",  # the key: required by the SDK
                    "text": "quote",
                    "__else__": "__NULL__",
                }
            }
        },
        direct=frozenset({"items"}),
    ),
    Case(
        "flattening",
        check_flattened,
        settings={"flattening_enabled": True, "flattening_max_depth": 1},
        direct=NONE,
    ),
    Case("full-table", check_full_table, replication=FULL_TABLE),
    Case(
        "full-table-activate-version",
        check_activate_version,
        replication=FULL_TABLE,
        settings={"emit_activate_version_messages": True},
    ),
    Case("incremental", check_incremental, replication="INCREMENTAL"),
    Case("incremental-bookmark", check_bookmarked, replication="INCREMENTAL", bookmark=True),
    Case("dry-run", check_dry_run, dry_run=10, direct=NONE),
    Case("test-flag", check_connection_test, connection_test=True, direct=NONE),
    Case("batch-jsonl-gzip", check_batches, batch=("jsonl", "gzip"), direct=NONE),
    Case("batch-jsonl-none", check_batches, batch=("jsonl", "none"), direct=NONE),
    # pyarrow is a dependency (singer-sdk[parquet]): Parquet BATCH files work wherever the tap does.
    Case("batch-parquet", check_parquet_batches, batch=("parquet", "none"), direct=NONE),
]


@pytest.fixture(params=["zip", "dump", "api"])
def source(request: pytest.FixtureRequest, clock: FakeClock) -> Iterator[Source]:
    if request.param == "zip":
        yield Source("zip", {"export_path": str(ROOT / "demo" / "pocket.zip")}, state_every=7)
    elif request.param == "dump":
        dump = FIXTURES / "export" / "karlicoss_pockexport_example_output_2025.json"
        yield Source("dump", {"export_path": str(dump)}, state_every=1)
    else:
        account = generate_account(70, seed=5, clock=clock)
        for item_id in sorted(row["item_id"] for row in account.live_items())[:3]:
            account.delete_item(item_id)  # tombstones
        with PocketEmulator(account) as emulator:
            yield Source("api", config_for(emulator, page_size=25), state_every=10)


def case_id(case: Case) -> str:
    return case.name


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_fast_path_writes_what_the_sdk_path_writes(
    case: Case, source: Source, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(Stream, "STATE_MSG_FREQUENCY", source.state_every)
    base = run_tap(copy.deepcopy(source.config))  # the default settings, for the checks
    config = {**source.config, **copy.deepcopy(dict(case.settings))}
    if case.batch:
        format_, compression = case.batch
        config["batch_config"] = {
            "encoding": {"format": format_, "compression": compression},
            "storage": {"root": f"file://{tmp_path}"},
            "batch_size": 10,
        }
    state = bookmark_state(base) if case.bookmark else None
    catalog = catalog_for(case, config)

    direct = direct_rows_written(monkeypatch)
    sdk_batched = sdk_batches_written(monkeypatch)
    fast = sync(case, config, state, catalog)
    fast_direct, fast_sdk_batched = set(direct), set(sdk_batched)

    sdk_path_only(monkeypatch)
    direct = direct_rows_written(monkeypatch)
    sdk_batched = sdk_batches_written(monkeypatch)
    sdk = sync(case, config, state, catalog)

    # Which path ran: the fast one where it is expected, and only the SDK's when forced.
    missing = case.direct - fast_direct
    assert not missing, f"the fast path did not write {sorted(missing)}"
    assert not direct, f"writes_directly() off, yet {sorted(set(direct))} went direct"
    if case.batch:
        if source.export and case.batch[0] == "jsonl":
            assert not fast_sdk_batched & STREAMS, "the export's fast batch writer did not run"
        assert set(sdk_batched) >= STREAMS, (
            "writes_directly() off, yet the batches of "
            f"{sorted(STREAMS - set(sdk_batched))} skipped the SDK's Stream.get_batches"
        )

    # The setting took effect (a setting both paths ignore would pass the comparison).
    case.check(sdk, base, source)

    fast_messages, sdk_messages = comparable(fast), comparable(sdk)
    assert fast_messages == sdk_messages, difference(fast_messages, sdk_messages)
    # Byte for byte: the keys in the same order too (dict equality ignores it).
    assert [json.dumps(m) for m in fast_messages] == [json.dumps(m) for m in sdk_messages]


def write_export_zip(path: Path, entries: list[dict[str, t.Any]]) -> None:
    """The pocket.zip Pocket would have exported for these ``/v3/get`` list entries."""
    rows = io.StringIO()
    writer = csv.writer(rows, lineterminator="\n")
    writer.writerow(["title", "url", "time_added", "tags", "status"])
    annotations = []
    for entry in entries:
        status = {"0": "unread", "1": "archive"}[entry["status"]]
        tags = "|".join(sorted(entry.get("tags") or {}))
        writer.writerow(
            [entry["given_title"], entry["given_url"], entry["time_added"], tags, status]
        )
        if entry.get("annotations"):
            highlights = [
                {"quote": a["quote"], "created_at": int(when(a["created_at"]).timestamp())}
                for a in entry["annotations"]
            ]
            annotations.append(
                {"url": entry["given_url"], "title": entry["given_title"], "highlights": highlights}
            )
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("part_000000.csv", rows.getvalue())
        archive.writestr("annotations/part_000000.json", json.dumps(annotations))


def test_an_items_filter_keeps_the_same_highlights_on_every_path(
    clock: FakeClock, tmp_path: Path
) -> None:
    """README's filter on one library, read from the API, its dump and its export zip.

    The same highlights survive on each path: those of the unread items.
    """
    account = generate_account(70, seed=5, clock=clock)
    entries = account.live_items(annotations=True)
    dump = tmp_path / "dump.json"
    dump.write_text(json.dumps({"status": 1, "list": {e["item_id"]: e for e in entries}}))
    export = tmp_path / "pocket.zip"
    write_export_zip(export, entries)

    def highlights(config: dict[str, t.Any], filtered: bool) -> set[tuple[str, str]]:
        maps = {"stream_maps": README_FILTER} if filtered else {}
        rows = run_tap({**config, **maps}).records["highlights"]
        return {(normalise_url(row["url"]), row["quote"]) for row in rows}

    expected = {
        (normalise_url(entry["given_url"]), annotation["quote"])
        for entry in entries
        if entry["status"] == "0"
        for annotation in entry.get("annotations", [])
    }
    every = {
        (normalise_url(e["given_url"]), a["quote"])
        for e in entries
        for a in e.get("annotations", [])
    }
    assert expected
    assert len(expected) < len(every)
    with PocketEmulator(account) as emulator:
        api = config_for(emulator, page_size=25)
        assert highlights(api, filtered=False) == every
        assert highlights(api, filtered=True) == expected
    for config in ({"export_path": str(dump)}, {"export_path": str(export)}):
        assert highlights(config, filtered=False) == every
        assert highlights(config, filtered=True) == expected
