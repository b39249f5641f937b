"""Exports are snapshots: links missing from a newer export are retired in PostgreSQL.

Two exports of the same account, built from the bundled demo (``demo/pocket.zip``), are
loaded one after the other with ``meltano run tap-pocket target-postgres``, as docs/loaders.md
("Retiring links missing from a newer export") says to configure it: the tap setting
``emit_activate_version_messages: true`` and the catalog metadata
``replication-method: FULL_TABLE`` on the extractor, ``activate_version: true`` and
``hard_delete`` on the loader. The second export lacks some links, among them links with
highlights. After the second run:

* ``hard_delete: true``: the rows of the missing links and of their highlights are gone;
* ``hard_delete: false``: they are still there, flagged by ``_sdc_deleted_at``, with the
  older ``_sdc_table_version`` (target-postgres flags every row whose version is older
  than the one activated, or null);

and in both cases every other row is intact (same values as after the first run, not
flagged) and carries the version of the second run. The ``highlights`` table holds
``annotation_version``: a column named ``version`` would crash target-postgres 0.8.1 when
it flags rows (``bindparam('version')`` is reserved in its UPDATE statement).

The pipeline runs in a throwaway Meltano project whose ``meltano.yml`` holds the
repository's own definitions of the two plugins plus the settings above, so the test
proves the configuration the docs give (read from their YAML block). The plugin
definitions are copied verbatim, so the installs of the session's private Meltano system
folder (see conftest) are reused: nothing is installed for this project.
"""

from __future__ import annotations

import copy
import csv
import html
import io
import json
import typing as t
import zipfile
from collections import Counter
from dataclasses import dataclass

import pytest
import yaml

from tests import doc_pages

from .conftest import REPO
from .test_loaders import PostgresReader, _create_database, _postgres_env

if t.TYPE_CHECKING:
    from pathlib import Path

    from .conftest import Meltano, MeltanoResult
    from .postgres import PostgresServer

pytestmark = pytest.mark.e2e

DEMO_EXPORT = REPO / "demo" / "pocket.zip"
ENVIRONMENT = "snapshots"
STATE_ID = f"{ENVIRONMENT}:tap-pocket-to-target-postgres"
#: Links the newer export no longer has: 3 + 1 + 0 highlights.
REMOVED_URLS = frozenset(
    {
        "https://paulgraham.com/greatwork.html",
        "https://12factor.net/",
        "https://duckdb.org/",
    }
)
CSV_STATUSES = {"unread": "unread", "archive": "archived"}


def documented_plugins() -> tuple[dict[str, t.Any], dict[str, t.Any]]:
    """The extractor and loader the docs tell users to add to meltano.yml, as given.

    docs/loaders.md, "Retiring links missing from a newer export".
    """
    (block,) = [b for b in doc_pages.fenced("yaml") if "emit_activate_version_messages" in b]
    plugins = yaml.safe_load(block)
    (tap,) = plugins["extractors"]
    (loader,) = plugins["loaders"]
    assert (tap["name"], loader["name"]) == ("tap-pocket", "target-postgres")
    return tap, loader


# The exports ---------------------------------------------------------------------------


def _without_links(member: str, data: bytes, removed: frozenset[str]) -> bytes:
    """One member of an export with the rows / annotations of ``removed`` URLs left out."""
    if member.endswith(".csv"):
        rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
        header, body = rows[0], rows[1:]
        url = header.index("url")
        out = io.StringIO(newline="")
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(row for row in body if html.unescape(row[url]) not in removed)
        return out.getvalue().encode("utf-8")
    if member.startswith("annotations/") and member.endswith(".json"):
        entries = json.loads(data)
        kept = [entry for entry in entries if html.unescape(entry["url"]) not in removed]
        return json.dumps(kept, ensure_ascii=False, indent=2).encode("utf-8")
    return data


def write_export(path: Path, removed: frozenset[str] = frozenset()) -> None:
    """The demo export as Pocket laid it out (CSV parts, annotations/*.json), minus links."""
    with zipfile.ZipFile(DEMO_EXPORT) as source, zipfile.ZipFile(path, "w") as target:
        for info in source.infolist():
            data = _without_links(info.filename, source.read(info), removed)
            target.writestr(
                zipfile.ZipInfo(info.filename, info.date_time), data, zipfile.ZIP_DEFLATED
            )


@dataclass(frozen=True)
class Snapshot:
    """What an export holds: items by URL (sorted tags, status), highlights (URL, quote)."""

    items: dict[str, tuple[tuple[str, ...], str]]
    highlights: Counter[tuple[str, str]]

    @classmethod
    def of(cls, path: Path) -> Snapshot:
        items: dict[str, tuple[tuple[str, ...], str]] = {}
        highlights: Counter[tuple[str, str]] = Counter()
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                text = archive.read(name).decode("utf-8")
                if name.endswith(".csv"):
                    for row in csv.DictReader(io.StringIO(text, newline="")):
                        tags = tuple(sorted(tag for tag in row["tags"].split("|") if tag))
                        items[html.unescape(row["url"]).strip()] = (
                            tags,
                            CSV_STATUSES[row["status"]],
                        )
                elif name.startswith("annotations/"):
                    for entry in json.loads(text):
                        url = html.unescape(entry["url"]).strip()
                        highlights.update((url, h["quote"]) for h in entry["highlights"])
        return cls(items, highlights)


# The Meltano project -------------------------------------------------------------------


def _plugin(project: dict[str, t.Any], kind: str, name: str) -> dict[str, t.Any]:
    (plugin,) = [p for p in project["plugins"][kind] if p["name"] == name]
    return copy.deepcopy(plugin)


def write_project(root: Path, export: Path, *, hard_delete: bool) -> Path:
    """A Meltano project with the repository's tap-pocket and target-postgres.

    Configured as the docs say, to retire the rows of links missing from a newer export:
    their extractor and loader settings over the repository's, ``hard_delete`` either way.
    """
    documented_tap, documented_loader = documented_plugins()
    repo = yaml.safe_load((REPO / "meltano.yml").read_text(encoding="utf-8"))
    tap = _plugin(repo, "extractors", "tap-pocket")
    tap["config"] = {
        **tap.get("config", {}),
        "export_path": str(export),
        **documented_tap["config"],
    }
    tap["metadata"] = documented_tap["metadata"]
    loader = _plugin(repo, "loaders", "target-postgres")
    loader["config"] = {
        **loader["config"],
        **documented_loader["config"],
        "hard_delete": hard_delete,
    }
    assert loader["config"]["add_record_metadata"] is True  # target-postgres requires it
    project = {
        "requires_meltano": repo["requires_meltano"],
        "project_id": "tap-pocket-e2e-activate-version",
        "send_anonymous_usage_stats": False,
        "default_environment": ENVIRONMENT,
        "plugins": {"extractors": [tap], "loaders": [loader]},
        "environments": [{"name": ENVIRONMENT}],
    }
    root.mkdir(parents=True)
    (root / "meltano.yml").write_text(yaml.safe_dump(project, sort_keys=False), encoding="utf-8")
    return root


def in_project(meltano: Meltano, root: Path, *args: str) -> MeltanoResult:
    return meltano("--cwd", str(root), f"--environment={ENVIRONMENT}", *args)


def tap_config(meltano: Meltano, root: Path) -> dict[str, t.Any]:
    """The configuration Meltano hands the tap."""
    result = in_project(meltano, root, "--log-level=error", "config", "print", "tap-pocket")
    assert result.returncode == 0, result.tail()
    lines = result.output.splitlines()
    start = lines.index("{")
    return t.cast("dict[str, t.Any]", json.loads("\n".join(lines[start:])))


def run(meltano: Meltano, root: Path) -> MeltanoResult:
    result = in_project(meltano, root, "run", "tap-pocket", "target-postgres")
    assert result.returncode == 0, (
        f"meltano run tap-pocket target-postgres failed ({result.returncode}):\n{result.tail()}"
    )
    return result


def stored_bookmarks(meltano: Meltano, root: Path) -> dict[str, t.Any]:
    """The bookmarks of the state Meltano stored from the tap's STATE messages."""
    result = in_project(meltano, root, "--log-level=error", "state", "get", STATE_ID)
    assert result.returncode == 0, result.tail()
    payload = [line for line in result.output.splitlines() if line.startswith('{"singer_state"')]
    assert payload, f"no state stored for {STATE_ID}:\n{result.tail()}"
    return t.cast("dict[str, t.Any]", json.loads(payload[-1])["singer_state"].get("bookmarks", {}))


# What landed -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Landed:
    """A row as read back: its values, its id, whether it is flagged, its table version."""

    values: tuple[t.Any, ...]
    row_id: str
    deleted: bool
    table_version: int | None


class Tables:
    def __init__(self, url: str) -> None:
        self.reader = PostgresReader(url, schema="pocket")

    def items(self) -> dict[str, Landed]:
        """Items by URL: (sorted tags, status), item_id."""
        rows = self.reader.query(
            "SELECT given_url, tags, status, item_id, _sdc_deleted_at, _sdc_table_version "
            "FROM items"
        )
        urls = [row[0] for row in rows]
        assert len(urls) == len(set(urls)), "duplicate rows of one link"
        ((rows_count, keys),) = self.reader.query(
            "SELECT count(*), count(DISTINCT item_id) FROM items"
        )
        assert rows_count == keys, "duplicate item_id rows"
        return {
            url: Landed(
                (tuple(sorted(tags or ())), status), item_id, deleted_at is not None, version
            )
            for url, tags, status, item_id, deleted_at, version in rows
        }

    def highlights(self) -> dict[tuple[str, str], Landed]:
        """Highlights by (URL of the item they join to, quote), with their highlight_id."""
        rows = self.reader.query(
            "SELECT i.given_url, h.quote, h.highlight_id, h._sdc_deleted_at, "
            "h._sdc_table_version "
            "FROM highlights AS h LEFT JOIN items AS i USING (item_id)"
        )
        keys = [(url, quote) for url, quote, *_ in rows]
        assert None not in (url for url, _ in keys), "a highlight that joins to no item"
        assert len(keys) == len(set(keys)), f"duplicate highlights: {Counter(keys).most_common(2)}"
        return {
            (url, quote): Landed((), highlight_id, deleted_at is not None, version)
            for url, quote, highlight_id, deleted_at, version in rows
        }

    def highlight_columns(self) -> set[str]:
        rows = self.reader.query(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'pocket' AND table_name = 'highlights'"
        )
        return {name for (name,) in rows}


def single_version(rows: t.Iterable[Landed], what: str) -> int:
    """The one ``_sdc_table_version`` a set of rows carries: that of the run that wrote them."""
    versions = {row.table_version for row in rows}
    assert None not in versions, (
        f"{what}: rows without _sdc_table_version: the tap's RECORD messages of a FULL_TABLE "
        "sync with activate-version must carry the stream version of its ACTIVATE_VERSION"
    )
    assert len(versions) == 1, f"{what}: several table versions {versions}"
    (version,) = versions
    return t.cast("int", version)


def assert_no_bookmarks(meltano: Meltano, root: Path) -> None:
    """A FULL_TABLE sync keeps no replication bookmark (as the SDK's own path)."""
    bookmarks = stored_bookmarks(meltano, root)
    for stream in ("items", "highlights"):
        stored = json.dumps(bookmarks.get(stream, {}))
        assert "replication_key_value" not in stored, (
            f"FULL_TABLE stream {stream} left a bookmark in the state Meltano keeps: {stored}"
        )


@dataclass(frozen=True)
class Exports:
    """The older export (at the path the tap reads) and the newer one, and what they hold."""

    path: Path
    newer: Path
    first: Snapshot
    second: Snapshot
    #: Highlights of the links the newer export lacks.
    removed_highlights: Counter[tuple[str, str]]


def write_exports(folder: Path) -> Exports:
    path = folder / "pocket.zip"  # a newer export replaces the older one, as users do
    write_export(path)
    newer = folder / "newer.zip"
    write_export(newer, REMOVED_URLS)
    first, second = Snapshot.of(path), Snapshot.of(newer)
    removed_highlights = Counter(
        {key: n for key, n in first.highlights.items() if key[0] in REMOVED_URLS}
    )
    # The scenario holds: links gone, with highlights among them; the rest unchanged.
    assert set(first.items) >= REMOVED_URLS
    assert not REMOVED_URLS & set(second.items)
    assert {url: first.items[url] for url in second.items} == second.items
    assert sum(removed_highlights.values()) >= 4
    assert first.highlights - removed_highlights == second.highlights
    assert max(first.highlights.values()) == 1, "the demo's highlights are distinct"
    return Exports(path, newer, first, second, removed_highlights)


@dataclass(frozen=True)
class FirstRun:
    items: dict[str, Landed]
    highlights: dict[tuple[str, str], Landed]
    items_version: int
    highlights_version: int


def check_first_run(tables: Tables, exports: Exports) -> FirstRun:
    """The older export landed in full: every link and highlight, live, one table version."""
    items = tables.items()
    highlights = tables.highlights()
    assert {url: row.values for url, row in items.items()} == exports.first.items
    assert Counter(list(highlights)) == exports.first.highlights
    assert not any(row.deleted for row in [*items.values(), *highlights.values()])
    columns = tables.highlight_columns()
    assert "annotation_version" in columns
    assert "version" not in columns
    return FirstRun(
        items,
        highlights,
        single_version(items.values(), "items after run 1"),
        single_version(highlights.values(), "highlights after run 1"),
    )


def check_second_run(tables: Tables, exports: Exports, before: FirstRun, *, hard: bool) -> None:
    """The newer export's rows are live and intact; the others are deleted or flagged."""
    items = tables.items()
    highlights = tables.highlights()
    second = exports.second
    kept_urls, kept_highlights = set(second.items), set(second.highlights)
    live_items = {url: row for url, row in items.items() if not row.deleted}
    live_highlights = {key: row for key, row in highlights.items() if not row.deleted}
    # What the newer export holds is live and intact: the values of run 1, same ids.
    assert set(live_items) == kept_urls, (
        f"live links: missing {sorted(kept_urls - set(live_items))}, "
        f"not retired {sorted(set(live_items) - kept_urls)}"
    )
    assert {url: row.values for url, row in live_items.items()} == second.items
    assert set(live_highlights) == kept_highlights, (
        f"live highlights: missing {sorted(kept_highlights - set(live_highlights))}, "
        f"not retired {sorted(set(live_highlights) - kept_highlights)}"
    )
    for url in kept_urls:
        assert live_items[url].row_id == before.items[url].row_id
    for key in kept_highlights:
        assert live_highlights[key].row_id == before.highlights[key].row_id
    # ... and was written by run 2: a newer table version than run 1's.
    assert single_version(live_items.values(), "items after run 2") > before.items_version
    assert (
        single_version(live_highlights.values(), "highlights after run 2")
        > before.highlights_version
    )

    retired_items = {url: row for url, row in items.items() if url not in kept_urls}
    retired_highlights = {k: row for k, row in highlights.items() if k not in kept_highlights}
    if hard:
        # Deleted: only the newer export's rows are left.
        assert not retired_items, f"rows of missing links not deleted: {sorted(retired_items)}"
        assert not retired_highlights, f"highlights not deleted: {sorted(retired_highlights)}"
        return
    # Flagged: the rows stay, with _sdc_deleted_at set and run 1's values and table version.
    assert set(retired_items) == REMOVED_URLS
    assert set(retired_highlights) == set(exports.removed_highlights)
    for url, row in retired_items.items():
        assert row.deleted, f"{url} is missing from the newer export but not flagged"
        assert (row.values, row.row_id) == (before.items[url].values, before.items[url].row_id)
        assert row.table_version == before.items_version
    for key, row in retired_highlights.items():
        assert row.deleted, f"highlight {key} of a missing link is not flagged"
        assert row.row_id == before.highlights[key].row_id
        assert row.table_version == before.highlights_version
    assert len(items) == len(exports.first.items)
    assert len(highlights) == sum(exports.first.highlights.values())


# The test --------------------------------------------------------------------------------


@pytest.mark.parametrize("hard_delete", [True, False], ids=["hard_delete", "soft_delete"])
def test_links_missing_from_a_newer_export_are_retired(
    meltano: Meltano, postgres_server: PostgresServer, tmp_path: Path, hard_delete: bool
) -> None:
    exports = write_exports(tmp_path)
    database = "snapshots_hard" if hard_delete else "snapshots_soft"
    tables = Tables(_create_database(postgres_server, database))
    meltano.env.update(_postgres_env(postgres_server, database))
    root = write_project(tmp_path / "project", exports.path, hard_delete=hard_delete)
    config = tap_config(meltano, root)
    assert config.get("emit_activate_version_messages") is True, config
    assert config.get("export_path") == str(exports.path)

    # Run 1: the older export, in full.
    run(meltano, root)
    before = check_first_run(tables, exports)
    assert_no_bookmarks(meltano, root)

    # Run 2: the newer export, without some links (and so without their highlights).
    exports.path.write_bytes(exports.newer.read_bytes())
    run(meltano, root)
    check_second_run(tables, exports, before, hard=hard_delete)
    assert_no_bookmarks(meltano, root)
