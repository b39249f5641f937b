"""The delete table of docs/loaders.md: links missing from a newer export, per loader.

Two exports are loaded one after the other, the newer one without some links (the
exports of test_activate_version.py), with the docs' activate-version configuration
(``emit_activate_version_messages: true`` and ``replication-method: FULL_TABLE``, set
here the way a user can without editing meltano.yml: ``TAP_POCKET_*`` variables and
Meltano's ``TAP_POCKET__METADATA`` extra) and the loaders' settings from meltano.yml.
PostgreSQL retires the missing links (test_activate_version.py); the other three loaders
of meltano.yml keep them as live rows, which is what the docs' table says. The other row
of the table, items deleted in Pocket (API tombstones), is proven for every loader by the
scenario of test_loaders.py (``_sdc_deleted_at`` set, status ``deleted``).
"""

from __future__ import annotations

import json
import typing as t

import pytest

from .fake_elasticsearch import FakeElasticsearch
from .scenario import change_account
from .test_activate_version import REMOVED_URLS, write_exports
from .test_loaders import DuckDBReader, JsonlReader

if t.TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from .conftest import Meltano, Pocket

pytestmark = pytest.mark.e2e

SNAPSHOT_ENV = {
    "TAP_POCKET_EMIT_ACTIVATE_VERSION_MESSAGES": "true",
    "TAP_POCKET__METADATA": json.dumps({"*": {"replication-method": "FULL_TABLE"}}),
}

#: (URL, flagged by _sdc_deleted_at) of every items row that landed.
Landed = list[tuple[str, bool]]


def load_twice(
    meltano: Meltano, tmp_path: Path, loader: str, landed: Callable[[], Landed], **env: str
) -> tuple[Landed, Landed]:
    (tmp_path / "exports").mkdir()
    exports = write_exports(tmp_path / "exports")
    env = {**SNAPSHOT_ENV, "TAP_POCKET_EXPORT_PATH": str(exports.path), **env}
    meltano.run("tap-pocket", loader, environment="mine", **env)
    first = landed()
    exports.path.write_bytes(exports.newer.read_bytes())
    second_run = meltano.run("tap-pocket", loader, environment="mine", **env)
    assert second_run.record_counts()["items"] == len(exports.second.items)
    # The docs' configuration took effect: the tap got the setting, the streams ran
    # FULL_TABLE (no bookmark in the state Meltano kept).
    printed = meltano(
        "--environment=mine", "--log-level=error", "config", "print", "tap-pocket", **env
    )
    config = json.loads(printed.output[printed.output.index("{") :])
    assert config["emit_activate_version_messages"] is True
    state = meltano.state(f"mine:tap-pocket-to-{loader}", environment="mine")
    assert "replication_key_value" not in json.dumps(state), state
    return first, landed()


def assert_missing_links_stay_live(first: Landed, second: Landed) -> None:
    assert {url for url, _ in first} >= REMOVED_URLS
    assert not any(flagged for _, flagged in first)
    # The newer export lacks them, yet their rows are still there, not flagged.
    latest = dict(second)
    for url in REMOVED_URLS:
        assert url in latest, f"{url} was removed"
        assert latest[url] is False, f"{url} was flagged"


def test_duckdb_keeps_links_missing_from_a_newer_export(meltano: Meltano, tmp_path: Path) -> None:
    database = tmp_path / "pocket.duckdb"

    def landed() -> Landed:
        rows = DuckDBReader(database).query("SELECT given_url, _sdc_deleted_at FROM items")
        return [(url, deleted is not None) for url, deleted in rows]

    first, second = load_twice(
        meltano, tmp_path, "target-duckdb", landed, TARGET_DUCKDB_PATH=str(database)
    )
    assert_missing_links_stay_live(first, second)
    assert len(second) == len(first)  # upserted on item_id: no duplicates


def test_jsonl_keeps_links_missing_from_a_newer_export(meltano: Meltano, tmp_path: Path) -> None:
    folder = tmp_path / "jsonl"

    def landed() -> Landed:
        latest = {r["item_id"]: r for r in JsonlReader(folder).lines("items")}
        return [(r["given_url"], r.get("_sdc_deleted_at") is not None) for r in latest.values()]

    first, second = load_twice(
        meltano, tmp_path, "target-jsonl", landed, TARGET_JSONL_DESTINATION_PATH=str(folder)
    )
    assert_missing_links_stay_live(first, second)


def test_elasticsearch_keeps_links_missing_from_a_newer_export(
    meltano: Meltano, tmp_path: Path
) -> None:
    with FakeElasticsearch() as server:

        def landed() -> Landed:
            docs = server.docs("pocket-items").values()
            return [(d["given_url"], d.get("_sdc_deleted_at") is not None) for d in docs]

        first, second = load_twice(
            meltano,
            tmp_path,
            "target-elasticsearch",
            landed,
            TARGET_ELASTICSEARCH_HOST=server.host,
            TARGET_ELASTICSEARCH_PORT=str(server.port),
        )
        assert not server.unsupported, server.unsupported
    assert_missing_links_stay_live(first, second)
    assert len(second) == len(first)


def duckdb_columns(reader: DuckDBReader) -> dict[str, str]:
    return dict(
        reader.query(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'main' AND table_name = 'items'"
        )
    )


@pytest.mark.parametrize("first_load", ["hard_delete", "soft_delete"])
def test_duckdb_hard_delete_deletes_items_deleted_in_pocket(
    meltano: Meltano, pocket: Pocket, tmp_path: Path, first_load: str
) -> None:
    """The docs' target-duckdb row with ``hard_delete: true``: API tombstones delete rows.

    The target then adds its own metadata columns, ``_sdc_deleted_at`` as text. A table
    first loaded with ``hard_delete: false`` keeps the tap's timestamp column under a
    versioned name (``_sdc_deleted_at_<date>``) when the setting changes, as the docs warn.
    """
    database = tmp_path / "pocket.duckdb"
    reader = DuckDBReader(database)
    env = {**pocket.tap_env(), "TARGET_DUCKDB_PATH": str(database)}
    hard = {"TARGET_DUCKDB_HARD_DELETE": "true"}
    meltano.run(
        "tap-pocket", "target-duckdb", **env, **(hard if first_load == "hard_delete" else {})
    )
    before = {row.item_id for row in reader.items()}
    changes = change_account(pocket)
    meltano.run("tap-pocket", "target-duckdb", **env, **hard)

    after = {row.item_id for row in reader.items()}
    gone = {*changes.deleted, *changes.hidden}
    assert gone <= before
    assert not gone & after, "items deleted or hidden in Pocket are still there"
    live = {str(raw["item_id"]) for raw in pocket.account.live_items()}
    assert after == live
    columns = duckdb_columns(reader)
    assert columns["_sdc_deleted_at"] == "VARCHAR"  # the target's own column
    assert {"_sdc_batched_at", "_sdc_extracted_at"} <= set(columns)
    versioned = [c for c in columns if c.startswith("_sdc_deleted_at_")]
    if first_load == "hard_delete":
        assert not versioned
    else:
        assert len(versioned) == 1
        assert columns[versioned[0]] == "TIMESTAMP"
