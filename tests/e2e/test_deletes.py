"""README's delete table, the rows about links missing from a newer export, per loader.

Two exports are loaded one after the other, the newer one without some links (the
exports of test_activate_version.py), with README's activate-version configuration
(``emit_activate_version_messages: true`` and ``replication-method: FULL_TABLE``, set
here the way a user can without editing meltano.yml: ``TAP_POCKET_*`` variables and
Meltano's ``TAP_POCKET__METADATA`` extra) and the loaders' settings from meltano.yml.
PostgreSQL retires the missing links (test_activate_version.py); the other three loaders
of meltano.yml keep them as live rows, which is what README's table says. The other row
of the table, items deleted in Pocket (API tombstones), is proven for every loader by the
scenario of test_loaders.py (``_sdc_deleted_at`` set, status ``deleted``).
"""

from __future__ import annotations

import json
import typing as t

import pytest

from .fake_elasticsearch import FakeElasticsearch
from .test_activate_version import REMOVED_URLS, write_exports
from .test_loaders import DuckDBReader, JsonlReader

if t.TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from .conftest import Meltano

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
    # README's configuration took effect: the tap got the setting, the streams ran
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
