"""A new user's first commands: the default environment, the quickstart, the docs' SQL.

The default environment of meltano.yml reads the bundled demo export (demo/pocket.zip,
written by scripts/make_demo_export.py) into DuckDB. The example queries of docs/loaders.md
live in demo/queries/<database>/ (tests/test_docs.py checks the two are the same) and are run
here, on the tables the loaders really create, against answers computed from the demo's own
source data.
"""

from __future__ import annotations

import json
import re
import subprocess
import typing as t
from collections import Counter
from datetime import datetime, timezone

import pytest

from tests.support import load_module

from .conftest import REPO, clean_env
from .scenario import FULL_SYNC_SINCE, get_requests
from .test_loaders import DuckDBReader, PostgresReader, _create_database, _postgres_env

if t.TYPE_CHECKING:
    from pathlib import Path
    from types import ModuleType

    from .conftest import Meltano, Pocket
    from .postgres import PostgresServer

pytestmark = pytest.mark.e2e

QUERIES = REPO / "demo" / "queries"


def demo_source() -> ModuleType:
    return load_module(REPO / "scripts" / "make_demo_export.py")


def expected_answers() -> dict[str, list[tuple[t.Any, ...]]]:
    demo = demo_source()
    tags = Counter(tag for _, _, _, item_tags, _ in demo.ITEMS for tag in item_tags)
    domains = Counter(
        re.match(r"^[a-z]+://(www\.)?([^/:?#]+)", url).group(2)  # type: ignore[union-attr]
        for _, url, _, _, status in demo.ITEMS
        if status == "unread"
    )
    (quotes,) = [q for url, q in demo.HIGHLIGHTS if url == "https://paulgraham.com/greatwork.html"]
    return {
        "links_per_tag": sorted(tags.items(), key=lambda kv: (-kv[1], kv[0])),
        "unread_by_domain": sorted(domains.items(), key=lambda kv: (-kv[1], kv[0])),
        "highlights_of_item": [
            (datetime.fromisoformat(at).replace(tzinfo=timezone.utc), quote)
            for quote, at in sorted(quotes, key=lambda qa: qa[1])
        ],
    }


def answers(query: t.Callable[[str], list[tuple[t.Any, ...]]], database: str) -> dict[str, t.Any]:
    results = {}
    for path in sorted((QUERIES / database).glob("*.sql")):
        rows = query(path.read_text(encoding="utf-8"))
        if path.stem == "highlights_of_item":
            rows = [(at.replace(tzinfo=timezone.utc), quote) for at, quote in rows]
        results[path.stem] = [tuple(row) for row in rows]
    return results


def test_demo_environment_loads_the_demo(meltano: Meltano, tmp_path: Path) -> None:
    database = tmp_path / "pocket.duckdb"
    demo = demo_source()
    for _ in range(2):  # loading the same export again upserts, it does not duplicate
        meltano.run(
            "tap-pocket", "target-duckdb", environment="demo", TARGET_DUCKDB_PATH=str(database)
        )
        reader = DuckDBReader(database)
        items = reader.items()
        assert len(items) == len({row.item_id for row in items}) == len(demo.ITEMS)
        assert len(reader.highlight_ids()) == sum(len(q) for _, q in demo.HIGHLIGHTS)
    assert answers(reader.query, "duckdb") == expected_answers()
    ((title, tags),) = reader.query(
        "SELECT given_title, tags FROM items WHERE given_url = 'https://www.rust-lang.org/learn'"
    )
    assert title == "Rust for Pythonistas,\nin one afternoon"  # a quoted newline in the CSV
    assert tags == '["python","rust"]' or json.loads(tags) == ["python", "rust"]


def test_readme_queries_on_postgres(meltano: Meltano, postgres_server: PostgresServer) -> None:
    url = _create_database(postgres_server, "pocket_demo")
    meltano.run(
        "tap-pocket",
        "target-postgres",
        environment="demo",
        **_postgres_env(postgres_server, "pocket_demo"),
    )
    reader = PostgresReader(url, schema="pocket_demo")  # the demo's own schema
    assert answers(reader.query, "postgres") == expected_answers()


def _quickstart(cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    completed = subprocess.run(
        [str(REPO / "scripts" / "quickstart")],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert completed.returncode == 0, (completed.stdout + completed.stderr)[-4000:]
    return completed


def test_quickstart_script(meltano: Meltano, tmp_path: Path) -> None:
    """scripts/quickstart, as a user runs it (uv, dependency group meltano): the demo."""
    database = tmp_path / "quickstart.duckdb"
    # The script reads the repository's .env, as it should for a user; a developer's own
    # .env must not change this test, so the environment is pinned.
    env = clean_env(**meltano.env, TARGET_DUCKDB_PATH=str(database))
    completed = _quickstart(tmp_path, {**env, "MELTANO_ENVIRONMENT": "demo"})
    assert "Meltano environment 'demo'" in completed.stderr
    assert database.is_file()
    summary = r"│\s+30 │\s+17 │\s+13 │\s+0 │\s+9 │"
    assert re.search(summary, completed.stdout), completed.stdout
    assert f"Loaded into {database}" in completed.stdout


def test_quickstart_and_meltano_run_share_one_state(
    meltano: Meltano, pocket: Pocket, tmp_path: Path
) -> None:
    """README's two ways to load your own data continue each other's sync.

    scripts/quickstart, then the plain `meltano run tap-pocket target-duckdb`, then the
    quickstart again: each run after the first asks Pocket only for what changed since
    the one before, whichever command ran it.
    """
    if (REPO / ".env").exists():
        pytest.skip("scripts/quickstart reads this repository's .env: checked in CI")
    database = tmp_path / "pocket.duckdb"
    settings = {**pocket.tap_env(), "TARGET_DUCKDB_PATH": str(database)}
    env = clean_env(**meltano.env, **settings)

    completed = _quickstart(tmp_path, env)
    assert "Meltano environment 'mine'" in completed.stderr  # chosen by itself
    first = get_requests(pocket)
    assert all(int(r.params.get("since") or 0) < FULL_SYNC_SINCE for r in first)
    loaded = len(DuckDBReader(database).items())
    assert loaded

    pocket.clock.advance(3600)
    seen = len(pocket.emulator.requests)
    result = meltano.run("tap-pocket", "target-duckdb", environment=None, **settings)
    assert "No state was found" not in result.output
    since = {int(r.params["since"]) for r in get_requests(pocket, seen)}
    assert since, "the plain `meltano run` sent no /v3/get request"
    assert min(since) >= FULL_SYNC_SINCE, "the plain run read the whole account again"

    pocket.clock.advance(3600)
    seen = len(pocket.emulator.requests)
    completed = _quickstart(tmp_path, env)
    since = {int(r.params["since"]) for r in get_requests(pocket, seen)}
    assert since
    assert min(since) >= FULL_SYNC_SINCE, "the quickstart read the whole account again"
    states = meltano("state", "list")
    assert states.returncode == 0, states.tail()
    assert re.findall(r"\w+:tap-pocket-to-target-duckdb", states.output) == [
        "mine:tap-pocket-to-target-duckdb"
    ]
    assert len(DuckDBReader(database).items()) == loaded  # upserted, nothing duplicated
