"""``meltano run tap-pocket <loader>`` for real, against the Pocket emulator, per loader.

Each test runs the pipeline twice with the real Meltano CLI and the loader pinned in
meltano.yml (see :mod:`e2e.scenario`), then checks what the loader wrote where it wrote
it: the DuckDB file, PostgreSQL tables, JSON Lines files, Elasticsearch documents.
"""

from __future__ import annotations

import json
import typing as t
from collections import Counter

import pytest

from .fake_elasticsearch import FakeElasticsearch
from .scenario import Row, run_twice, utc

if t.TYPE_CHECKING:
    from pathlib import Path

    from .conftest import Meltano, Pocket
    from .postgres import PostgresServer

pytestmark = pytest.mark.e2e

ITEM_COLUMNS = (
    "item_id, given_title, tags, favorite, status, time_added, time_updated, _sdc_deleted_at"
)
SELECT_ITEMS = f"SELECT {ITEM_COLUMNS} FROM items"  # noqa: S608 - constant column list


def _row(values: t.Sequence[t.Any], tags: t.Any) -> Row:
    item_id, title, _, favorite, status, added, updated, deleted_at = values
    return Row(
        item_id=item_id,
        given_title=title,
        tags=None if tags is None else tuple(tags),
        favorite=favorite,
        status=status,
        time_added=utc(added),
        time_updated=utc(updated),
        deleted=deleted_at is not None,
    )


# DuckDB ---------------------------------------------------------------------------------


class DuckDBReader:
    def __init__(self, path: Path) -> None:
        self.path = path

    def query(self, sql: str) -> list[tuple[t.Any, ...]]:
        import duckdb  # group e2e: imported when a test runs, not when collected

        with duckdb.connect(str(self.path), read_only=True) as connection:
            return connection.execute(sql).fetchall()

    def items(self) -> list[Row]:
        return [
            _row(values, None if values[2] is None else json.loads(values[2]))
            for values in self.query(SELECT_ITEMS)
        ]

    def highlight_ids(self) -> list[str]:
        return [values[0] for values in self.query("SELECT highlight_id FROM main.highlights")]


def test_duckdb(meltano: Meltano, pocket: Pocket, tmp_path: Path) -> None:
    database = tmp_path / "pocket.duckdb"
    reader = DuckDBReader(database)
    # target-duckdb loads through CSV, where an empty string and NULL are one value.
    run_twice(
        meltano,
        pocket,
        "target-duckdb",
        reader,
        empty_text_is_null=True,
        TARGET_DUCKDB_PATH=str(database),
    )
    ((rows, keys),) = reader.query("SELECT count(*), count(DISTINCT item_id) FROM main.items")
    assert rows == keys
    types = dict(
        reader.query(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'main' AND table_name = 'items'"
        )
    )
    assert types["tags"] == "JSON"
    assert types["time_updated"] == "TIMESTAMP"


# PostgreSQL -----------------------------------------------------------------------------


class PostgresReader:
    def __init__(self, url: str, schema: str = "pocket") -> None:
        self.url = url
        self.schema = schema

    def query(self, sql: str) -> list[tuple[t.Any, ...]]:
        import psycopg  # group e2e: imported when a test runs, not when collected

        with psycopg.connect(self.url, options=f"-c search_path={self.schema}") as connection:
            return connection.execute(sql).fetchall()  # type: ignore[arg-type]

    def items(self) -> list[Row]:
        return [_row(values, values[2]) for values in self.query(SELECT_ITEMS)]

    def highlight_ids(self) -> list[str]:
        return [values[0] for values in self.query("SELECT highlight_id FROM highlights")]


def _postgres_env(server: PostgresServer, database: str) -> dict[str, str]:
    return {
        "TARGET_POSTGRES_HOST": server.host,
        "TARGET_POSTGRES_PORT": str(server.port),
        "TARGET_POSTGRES_USER": server.user,
        "TARGET_POSTGRES_PASSWORD": server.password,
        "TARGET_POSTGRES_DATABASE": database,
    }


def _create_database(server: PostgresServer, name: str) -> str:
    import psycopg  # group e2e: imported when a test runs, not when collected

    with psycopg.connect(server.url(), autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    return server.url(name)


def test_postgres(meltano: Meltano, pocket: Pocket, postgres_server: PostgresServer) -> None:
    url = _create_database(postgres_server, "pocket_e2e")
    reader = PostgresReader(url)
    run_twice(
        meltano, pocket, "target-postgres", reader, **_postgres_env(postgres_server, "pocket_e2e")
    )
    types = dict(
        reader.query(
            "SELECT column_name, udt_name FROM information_schema.columns "
            "WHERE table_schema = 'pocket' AND table_name = 'items'"
        )
    )
    assert types["tags"] == "_text", "tags land as a text[] array"
    assert types["time_updated"] == "timestamp"
    ((rows, keys),) = reader.query("SELECT count(*), count(DISTINCT item_id) FROM items")
    assert rows == keys
    # Upserted in place: the rows of unchanged items still carry run 1's extraction time.
    ((batches,),) = reader.query("SELECT count(DISTINCT _sdc_batched_at) > 1 FROM items")
    assert batches


# JSON Lines -----------------------------------------------------------------------------


class JsonlReader:
    """The latest line per key: target-jsonl appends every record it receives."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def lines(self, stream: str) -> list[dict[str, t.Any]]:
        path = self.folder / f"{stream}.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]

    def items(self) -> list[Row]:
        latest = {record["item_id"]: record for record in self.lines("items")}
        return [
            Row(
                item_id=r["item_id"],
                given_title=r["given_title"],
                tags=None if r["tags"] is None else tuple(r["tags"]),
                favorite=r["favorite"],
                status=r["status"],
                time_added=utc(r["time_added"]),
                time_updated=utc(r["time_updated"]),
                deleted=r.get("_sdc_deleted_at") is not None,
            )
            for r in latest.values()
        ]

    def highlight_ids(self) -> list[str]:
        return list(dict.fromkeys(record["highlight_id"] for record in self.lines("highlights")))


def test_jsonl(meltano: Meltano, pocket: Pocket, tmp_path: Path) -> None:
    folder = tmp_path / "jsonl"
    reader = JsonlReader(folder)
    live_before = pocket.account.live_count()
    runs = run_twice(
        meltano, pocket, "target-jsonl", reader, TARGET_JSONL_DESTINATION_PATH=str(folder)
    )
    assert sorted(p.name for p in folder.iterdir()) == ["highlights.jsonl", "items.jsonl"]
    lines = reader.lines("items")
    # Run 1 wrote every live item once; run 2 appended exactly what changed.
    assert len(lines) == live_before + len(runs.expected_second_items)
    assert {r["item_id"] for r in lines[live_before:]} == runs.expected_second_items


# Elasticsearch --------------------------------------------------------------------------


class ElasticsearchReader:
    def __init__(self, server: FakeElasticsearch) -> None:
        self.server = server

    def items(self) -> list[Row]:
        docs = self.server.docs("pocket-items")
        assert all(doc_id == doc["item_id"] for doc_id, doc in docs.items()), "_id is not item_id"
        return [
            Row(
                item_id=d["item_id"],
                given_title=d.get("given_title"),
                tags=None if d.get("tags") is None else tuple(d["tags"]),
                favorite=d.get("favorite"),
                status=d.get("status"),
                time_added=utc(d.get("time_added")),
                time_updated=utc(d.get("time_updated")),
                deleted=d.get("_sdc_deleted_at") is not None,
            )
            for d in docs.values()
        ]

    def highlight_ids(self) -> list[str]:
        docs = self.server.docs("pocket-highlights")
        assert all(doc_id == doc["highlight_id"] for doc_id, doc in docs.items())
        return list(docs)


def test_elasticsearch(meltano: Meltano, pocket: Pocket) -> None:
    with FakeElasticsearch() as server:
        reader = ElasticsearchReader(server)
        env = {
            "TARGET_ELASTICSEARCH_HOST": server.host,
            "TARGET_ELASTICSEARCH_PORT": str(server.port),
        }
        live_before = {str(raw["item_id"]) for raw in pocket.account.live_items()}
        first_run_requests: list[int] = []
        runs = run_twice(
            meltano,
            pocket,
            "target-elasticsearch",
            reader,
            before_second_run=lambda: first_run_requests.append(len(server.bulk_requests)),
            **env,
        )

        assert not server.unsupported, server.unsupported
        assert set(server.indices) == {"pocket-items", "pocket-highlights"}, "one index per stream"
        (split,) = first_run_requests
        first_ops = [op for request in server.bulk_requests[:split] for op in request]
        second_ops = server.bulk_ops(split)
        assert all(op.action == "index" and op.id for op in first_ops + second_ops)
        first_items = [op for op in first_ops if op.index == "pocket-items"]
        assert Counter(op.id for op in first_items) == Counter(live_before)
        # Run 2 upserts: the same _id for every item seen before, new ids only for new items.
        second_items = {op.id for op in second_ops if op.index == "pocket-items"}
        assert second_items == runs.expected_second_items
        assert second_items - live_before == set(runs.changes.added)
        for item_id in runs.changes.deleted:
            assert server.indices["pocket-items"].versions[item_id] == 2
            assert server.docs("pocket-items")[item_id]["_sdc_deleted_at"] is not None
        requests = [f"{r.method} {r.path.split('?')[0]}" for r in server.requests]
        assert "PUT /pocket-items" in requests
        assert not any("ecs-" in r for r in requests), "the default daily index must not be used"
