"""``meltano run tap-pocket target-duckdb`` with ``pages`` selected, and the docs' queries on it.

The export's links point to the local test site (tests/test_pages_site.py) on loopback;
the site and its availability-API double run in this process while Meltano runs the tap.
"""

from __future__ import annotations

import csv
import json
import typing as t

import pytest

from tests.doc_pages import pages_queries
from tests.test_pages_site import ARTICLES, LocalSite

from .test_loaders import DuckDBReader

if t.TYPE_CHECKING:
    from pathlib import Path

    from .conftest import Meltano

pytestmark = pytest.mark.e2e


def test_pages_into_duckdb(meltano: Meltano, tmp_path: Path) -> None:
    with LocalSite(hosts=3) as site:
        articles = [f"{site.base(n % 3)}/article/{name}" for n, name in enumerate(ARTICLES)]
        # Definite deaths (a 5xx is a passing failure: not dead on a first run).
        dead = [f"{site.base()}/status/404", f"{site.base(1)}/status/410"]
        export = tmp_path / "part_000000.csv"
        with export.open("w", newline="", encoding="utf-8") as file:
            writer = csv.writer(file)
            writer.writerow(["title", "url", "time_added", "tags", "status"])
            for n, url in enumerate(articles + dead):
                writer.writerow([f"Saved {n}", url, 1_600_000_000 + n, "", "unread"])
        database = tmp_path / "pocket.duckdb"
        result = meltano.run(
            "tap-pocket",
            "target-duckdb",
            environment="mine",
            TAP_POCKET_EXPORT_PATH=str(export),
            TAP_POCKET__SELECT=json.dumps(["items.*", "pages.*"]),
            TAP_POCKET_FETCH_PRIVATE_ADDRESSES="true",  # the test site is on loopback
            TAP_POCKET_FETCH_CACHE_PATH=str(tmp_path / "pages.sqlite3"),
            TAP_POCKET_WAYBACK_API_URL=site.wayback_url,
            TARGET_DUCKDB_PATH=str(database),
        )
    assert result.record_counts() == {"items": 6, "pages": 6}
    reader = DuckDBReader(database)
    with_text, dead_links = pages_queries()
    rows = reader.query(with_text)
    assert len(rows) == len(articles)
    by_url = {row[2]: row for row in rows}
    assert set(by_url) == set(articles)
    nasa = by_url[articles[list(ARTICLES).index("14cc2a0ca59c")]]
    assert nasa[1].startswith("NASA Just Confirmed There Are Water Plumes")
    assert nasa[3] > 300
    assert "NASA" in nasa[4]
    found = {row[1]: row for row in reader.query(dead_links)}
    assert set(found) == set(dead)
    for url, (_, _, status, error, archived) in found.items():
        assert error == "http_error"
        assert status in {404, 410}
        assert archived.startswith(f"{site.base()}/web/2020091312264")  # the double's host
        assert archived.endswith(url)
