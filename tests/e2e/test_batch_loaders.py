"""BATCH messages into each loader this project installs: what lands, or how it fails.

The tap writes BATCH messages when ``batch_config`` is set (here through Meltano's
``TAP_POCKET_BATCH_CONFIG_*`` variables, gzipped JSON Lines files). A loader takes them
only if it reads BATCH; the ones that do not stop with their own error. Each loader's row
in the documented table says which, and this test holds the table to what really happens:
a "yes" loads the demo's rows (counted in the destination), a "no" fails as documented.
"""

from __future__ import annotations

import re
import typing as t

import pytest

from tests import doc_pages

from .conftest import LOADERS
from .fake_elasticsearch import FakeElasticsearch
from .test_loaders import DuckDBReader, PostgresReader, _create_database, _postgres_env

if t.TYPE_CHECKING:
    from pathlib import Path

    from .conftest import Meltano

pytestmark = pytest.mark.e2e

DEMO_ITEMS = 30
DEMO_HIGHLIGHTS = 9
SECTION = "BATCH messages, per loader"


def documented_support() -> dict[str, str | None]:
    """The docs' table: each loader, and None if it takes BATCH, else the error it stops with."""
    _, text = doc_pages.section(SECTION)
    support: dict[str, str | None] = {}
    for loader, takes, what in re.findall(
        r"^\| `([\w-]+)` \([^)]*\) \| ([^|]+) \| ([^|]+) \|$", text, re.MULTILINE
    ):
        if takes.strip() == "no":
            (error,) = re.findall(r"stops with `([^`]+)`", what)
            support[loader] = error
        else:
            assert takes.strip().startswith("yes"), (loader, takes)
            support[loader] = None
    return support


def batch_env(tmp_path: Path) -> dict[str, str]:
    """The docs' BATCH settings, with the batch files under ``tmp_path``."""
    _, text = doc_pages.section(SECTION)
    (block,) = doc_pages.fenced("dotenv", text)
    env = dict(line.split("=", 1) for line in block.splitlines() if line.strip())
    assert env.pop("TAP_POCKET_BATCH_CONFIG_STORAGE_ROOT")
    return {**env, "TAP_POCKET_BATCH_CONFIG_STORAGE_ROOT": (tmp_path / "batches").as_uri()}


def counts_in(
    loader: str, tmp_path: Path, server: t.Any
) -> tuple[dict[str, str], t.Callable[[], tuple[int, int]]]:
    """The loader's settings for a run into ``tmp_path`` or ``server``, and its row counter."""
    if loader == "target-postgres":
        url = _create_database(server, "pocket_batch")
        reader = PostgresReader(url, schema="pocket_demo")
        return _postgres_env(server, "pocket_batch"), lambda: (
            len(reader.items()),
            len(reader.highlight_ids()),
        )
    if loader == "target-duckdb":
        path = tmp_path / "batch.duckdb"
        return {"TARGET_DUCKDB_PATH": str(path)}, lambda: (
            len(DuckDBReader(path).items()),
            len(DuckDBReader(path).highlight_ids()),
        )
    if loader == "target-jsonl":
        folder = tmp_path / "jsonl"

        def lines(stream: str) -> int:
            path = folder / f"{stream}.jsonl"
            return len(path.read_text().splitlines()) if path.exists() else 0

        return {"TARGET_JSONL_DESTINATION_PATH": str(folder)}, lambda: (
            lines("items"),
            lines("highlights"),
        )
    return {
        "TARGET_ELASTICSEARCH_HOST": server.host,
        "TARGET_ELASTICSEARCH_PORT": str(server.port),
    }, lambda: (len(server.docs("pocket-demo-items")), len(server.docs("pocket-demo-highlights")))


@pytest.mark.parametrize("loader", LOADERS)
def test_batch_messages_into_each_loader(
    meltano: Meltano, tmp_path: Path, loader: str, request: pytest.FixtureRequest
) -> None:
    support = documented_support()
    assert set(LOADERS) <= set(support), "a loader of meltano.yml missing from the table"
    if loader == "target-elasticsearch":
        server: t.Any = request.getfixturevalue("_elasticsearch")
    elif loader == "target-postgres":
        server = request.getfixturevalue("postgres_server")
    else:
        server = None
    env, counts = counts_in(loader, tmp_path, server)
    result = meltano(
        "--environment=demo", "run", "tap-pocket", loader, **batch_env(tmp_path), **env
    )
    failure = support[loader]
    if failure is None:
        assert result.returncode == 0, result.tail()
        assert counts() == (DEMO_ITEMS, DEMO_HIGHLIGHTS)
    else:
        assert result.returncode != 0, f"{loader} now takes BATCH: update the docs' table"
        assert failure in result.output, result.tail()
    # The tap wrote its rows as batch files (the BATCH messages point at them).
    assert list((tmp_path / "batches").glob("*.json.gz")), "the tap wrote no batch file"


@pytest.fixture
def _elasticsearch() -> t.Iterator[FakeElasticsearch]:
    with FakeElasticsearch() as server:
        yield server
