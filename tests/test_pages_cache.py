"""The page cache through the real CLI: what is kept, retried, sent to the Wayback service.

The tap syncs a small export (items with highlights) whose links point at the local test
site (tests/test_pages_site.py); its Wayback double records what it is asked. Runs days
apart are the same command with the pages' clock set (conftest ``run_cli(clock=...)``),
not sleeps. The pure policy and the URL filter are tested one by one in
tests/test_pages_policy.py.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
import shutil
import sqlite3
import stat
import typing as t
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from pocket_emulator import Account, FakeClock, PocketEmulator
from tap_pocket.pages.cache import APPLICATION_ID, SCHEMA_VERSION, PageCache
from tap_pocket.pages.policy import DAY, HOUR, iso
from tap_pocket.rows import Page

from .conftest import CLOCK_START, CliResult, config_for, run_cli
from .support import load_module, unavailable, warning_lines
from .test_pages import selecting
from .test_pages_site import ARTICLES, LocalSite

if t.TYPE_CHECKING:
    from collections.abc import Iterator

T0 = 1_700_000_000.0
ARTICLE, OTHER_ARTICLE = list(ARTICLES)[:2]
SUMMARY = re.compile(
    r"pages: (?P<done>\d+) done .*: (?P<ok>\d+) ok, \d+ redirected, (?P<dead>\d+) dead, "
    r"(?P<archived>\d+) archived copies found, (?P<retrying>\d+) to retry on a later run, "
    r"(?P<skipped>\d+) skipped, (?P<unread>\d+) without an article, (?P<cached>\d+) from "
    r"the cache"
)


@pytest.fixture
def site() -> Iterator[LocalSite]:
    with LocalSite(hosts=1) as running:
        yield running


def write_export(folder: Path, urls: list[str]) -> Path:
    """An export folder: one unread item per URL, each with one highlight."""
    (folder / "annotations").mkdir(parents=True)
    with (folder / "part_000000.csv").open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["title", "url", "time_added", "tags", "status"])
        for n, url in enumerate(urls):
            writer.writerow([f"Item {n}", url, 1_600_000_000 + n, "", "unread"])
    annotations = [
        {
            "url": url,
            "title": f"Item {n}",
            "highlights": [{"quote": f"q{n}", "created_at": 1_600_000_100}],
        }
        for n, url in enumerate(urls)
    ]
    (folder / "annotations" / "part_000000.json").write_text(json.dumps(annotations))
    return folder


class Tap:
    """The tap's command line over one export, config and catalog, run again and again."""

    def __init__(self, tmp_path: Path, site: LocalSite, urls: list[str], **settings: t.Any) -> None:
        self.tmp_path, self.site, self.urls = tmp_path, site, urls
        self.cache = tmp_path / "cache" / "pages.sqlite3"
        self.config = {
            "export_path": str(write_export(tmp_path / "export", urls)),
            "fetch_private_addresses": True,  # the test site is on loopback
            "fetch_cache_path": str(self.cache),
            "wayback_api_url": site.wayback_url,
            **settings,
        }
        self.catalog = tmp_path / "catalog.json"
        self.catalog.write_text(json.dumps(selecting(self.config, "items", "highlights", "pages")))
        self.seen = 0  # site.requests already looked at

    def run(self, clock: float | None = None, **options: t.Any) -> Run:
        result = run_cli(
            "--catalog", str(self.catalog), config=self.config, tmp_path=self.tmp_path,
            clock=clock, **options,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
        requests, self.seen = self.site.requests[self.seen :], len(self.site.requests)
        return Run(result, [path for _, path in requests], self.site.base())


class Run:
    """One run's rows, log, and the requests that reached the site and the Wayback double."""

    def __init__(self, result: CliResult, paths: list[str], base: str) -> None:
        self.result = result
        records = result.output.records
        self.rows = {row["url"]: row for row in records["pages"]}
        self.items = records["items"]
        self.highlights = records["highlights"]
        self.fetched = [base + p for p in paths if not p.startswith(("/wayback/", "/robots.txt"))]
        self.wayback = [
            parse_qs(urlsplit(p).query)["url"][0] for p in paths if p.startswith("/wayback/")
        ]
        summary = [m for line in result.stderr.splitlines() if (m := SUMMARY.search(line))]
        assert len(summary) == 1, result.stderr
        self.summary = {name: int(value) for name, value in summary[0].groupdict().items()}
        self.warnings = warning_lines(result.stderr)

    def counts(self, **expected: int) -> None:
        assert {name: self.summary[name] for name in expected} == expected


# -- item 2: what is kept, what is retried, when the Wayback service is asked ---------------


def test_a_passing_failure_is_retried_on_growing_intervals_then_dead(
    tmp_path: Path, site: LocalSite
) -> None:
    """3 failed runs over at least 3 days make a link dead; only then is Wayback asked."""
    base = site.base()
    down, article, gone = f"{base}/down/flaky", f"{base}/article/{ARTICLE}", f"{base}/status/404"
    # Never fetchable, never sent to the archive, however long they fail.
    hostile = ["file:///etc/passwd", "javascript:alert(document.cookie)", "data:text/html,hi"]
    tap = Tap(tmp_path, site, [down, article, gone, *hostile])
    site.down.add("flaky")

    first = tap.run(T0)
    assert len(first.items) == len(first.highlights) == 6
    row = first.rows[down]
    assert (row["error"], row["attempts"], row["first_failed_at"]) == ("connection", 1, iso(T0))
    assert row["archived_url"] is None
    assert (first.rows[article]["error"], first.rows[article]["attempts"]) == (None, 1)
    assert first.rows[gone]["error"] == "http_error"
    assert first.rows[gone]["archived_url"] == f"{base}/web/20200913122642/{gone}"
    assert sorted(first.fetched) == sorted([down, article, gone])
    assert first.wayback == [gone]  # the definite death only: not a first passing failure
    first.counts(ok=1, dead=1, retrying=4, archived=1)
    asked = list(first.wayback)

    # (hours after the first run, whether the link is tried, attempts, counted dead)
    timeline = [
        (1 / 6, True, 2, False),  # after the first failure: the next run
        (1, False, 2, False),  # after the second: 6 hours
        (7, True, 3, False),  # three failed runs, but within hours
        (31, True, 4, False),  # after the third: a day
        (103, True, 5, True),  # after the fourth: 3 days; failing for 103 h now: dead
        (104, False, 5, True),  # after a failure that made it dead: a week
    ]
    for hours, tried, attempts, dead in timeline:
        run = tap.run(T0 + hours * HOUR)
        row = run.rows[down]
        assert (row["error"], row["attempts"], row["first_failed_at"]) == (
            "connection",
            attempts,
            iso(T0),
        ), hours
        assert run.fetched == ([down] if tried else []), hours  # the others from the cache
        assert run.wayback == ([down] if tried and dead else []), hours
        asked += run.wayback
        snapshot = f"{base}/web/20200913122640/{down}"
        assert row["archived_url"] == (snapshot if dead else None), hours
        assert run.rows[article]["title"] == first.rows[article]["title"]
        run.counts(ok=1, dead=5 if dead else 1, retrying=0 if dead else 4)
        assert {run.rows[url]["attempts"] for url in hostile} == {attempts}

    site.down.clear()
    back = tap.run(T0 + 103 * HOUR + 7 * DAY)
    row = back.rows[down]
    assert (row["error"], row["attempts"], row["first_failed_at"]) == (None, 6, None)
    assert row["title"] == first.rows[article]["title"]  # /down/ serves that article
    assert row["archived_url"] is None
    assert back.fetched == [down]
    back.counts(ok=2, dead=4, retrying=0)
    # Dead for days, the file:, javascript: and data: links never went to the archive.
    assert [*asked, *back.wayback] == [gone, down]


def test_a_kept_page_whose_refresh_fails_stays_the_row(tmp_path: Path, site: LocalSite) -> None:
    """A good page that times out on its refresh is not replaced by a bare failure row."""
    base = site.base()
    page, gone = f"{base}/down/kept", f"{base}/status/410"
    tap = Tap(tmp_path, site, [page, gone])
    first = tap.run(T0)
    good = first.rows[page]
    assert (good["error"], good["attempts"], good["first_failed_at"]) == (None, 1, None)
    assert good["title"]
    assert first.wayback == [gone]

    site.down.add("kept")
    month = T0 + 31 * DAY  # past fetch_refresh_days (30): both links are fetched again
    refresh = tap.run(month)
    row = refresh.rows[page]
    assert sorted(refresh.fetched) == sorted([page, gone])
    # The page as it was (its text, when it came), and the failing refresh noted.
    assert {k: v for k, v in row.items() if k not in {"attempts", "first_failed_at"}} == {
        k: v for k, v in good.items() if k not in {"attempts", "first_failed_at"}
    }
    assert (row["attempts"], row["first_failed_at"]) == (1, iso(month))
    assert refresh.wayback == [gone]  # a definite death is looked up again on refresh
    refresh.counts(ok=0, dead=1, retrying=1)

    again = tap.run(month + HOUR)
    assert again.fetched == [page]
    assert (again.rows[page]["title"], again.rows[page]["attempts"]) == (good["title"], 2)
    assert again.wayback == []

    site.down.clear()
    back = tap.run(month + 7 * HOUR)
    row = back.rows[page]
    assert back.fetched == [page]
    assert (row["error"], row["attempts"], row["first_failed_at"]) == (None, 3, None)
    assert row["fetched_at"] != good["fetched_at"]
    back.counts(ok=1, dead=1, retrying=0)


def test_the_api_path_keeps_and_retries_the_same_way(tmp_path: Path, site: LocalSite) -> None:
    """On the API path: an unusable cache is one warning; passing failures are retried."""
    account = Account(FakeClock(start=CLOCK_START))
    down, article = f"{site.base()}/down/api", f"{site.base()}/article/{ARTICLE}"
    ids = [account.add_item(url, title=url) for url in (down, article)]
    for item_id in ids:
        account.add_highlight(item_id, "a quote")
    site.down.add("api")
    bad = tmp_path / "garbage.sqlite3"
    bad.write_bytes(b"garbage " * 100)
    with PocketEmulator(account) as emulator:
        config = config_for(
            emulator, fetch_private_addresses=True, wayback_api_url=site.wayback_url
        )
        catalog = tmp_path / "catalog.json"
        catalog.write_text(json.dumps(selecting(config, "items", "highlights", "pages")))

        def run(cache: Path, clock: float) -> Run:
            result = run_cli(
                "--catalog", str(catalog), config={**config, "fetch_cache_path": str(cache)},
                tmp_path=tmp_path, clock=clock,
            )  # fmt: skip
            assert result.returncode == 0, result.stderr
            return Run(result, [], site.base())

        unusable = run(bad, T0)
        assert len(unusable.items) == len(unusable.highlights) == 2
        assert unusable.rows[article]["title"]
        assert len(unusable.warnings) == 1
        assert f"not using the page cache {bad}: it is not a SQLite" in unusable.warnings[0]
        assert bad.read_bytes() == b"garbage " * 100

        cache = tmp_path / "cache" / "pages.sqlite3"
        first = run(cache, T0)
        again = run(cache, T0 + 600)
    assert (first.rows[down]["attempts"], again.rows[down]["attempts"]) == (1, 2)
    assert again.rows[down]["first_failed_at"] == iso(T0)
    assert (first.rows[article]["attempts"], again.rows[article]["attempts"]) == (1, 1)
    assert site.paths().count("/down/api") == 3  # each run tried it
    assert site.paths().count(f"/article/{ARTICLE}") == 2  # the third run from the cache
    assert not [path for path in site.paths() if path.startswith("/wayback/")]
    again.counts(ok=1, retrying=1, cached=1)


# -- item 7: what the Wayback lookup receives, and what of its answer is used ----------------


def test_the_wayback_lookup_receives_no_secret(tmp_path: Path, site: LocalSite) -> None:
    base = site.base()
    host = base.removeprefix("http://")
    plain = f"{base}/status/404"
    tokens = f"{base}/status/404?token=SECRET1&q=1&api_key=SECRET2&sessionid=SECRET3"
    fragment = f"{base}/status/410?page=2#access_token=SECRET4"
    userinfo = f"http://user:SECRET5@{host}/status/404"
    hostile_answer = f"{base}/status/410?hostile-archive"
    foreign_answer = f"{base}/status/410?foreign-archive"
    urls = [plain, tokens, fragment, userinfo, hostile_answer, foreign_answer]
    tap = Tap(tmp_path, site, urls)
    run = tap.run()
    assert {url: row["error"] for url, row in run.rows.items()} == dict.fromkeys(urls, "http_error")
    assert sorted(run.wayback) == sorted(
        [
            plain,
            f"{base}/status/404?q=1",
            f"{base}/status/410?page=2",
            hostile_answer,
            foreign_answer,
        ]
    )
    lookups = [unquote(path) for path in site.paths() if path.startswith("/wayback/")]
    assert len(lookups) == 5
    assert not [path for path in lookups if "SECRET" in path or "user" in path]
    archived = {url: row["archived_url"] for url, row in run.rows.items()}
    assert archived == {
        plain: f"{base}/web/20200913122640/{plain}",
        tokens: f"{base}/web/20200913122641/{base}/status/404?q=1",
        fragment: f"{base}/web/20200913122642/{base}/status/410?page=2",
        userinfo: None,  # not asked
        hostile_answer: None,  # a javascript: answer
        foreign_answer: None,  # a snapshot on another host
    }
    # Kept for fetch_refresh_days: the second run asks neither the site nor the archive.
    second = tap.run()
    assert (second.fetched, second.wayback) == ([], [])
    assert {url: row["archived_url"] for url, row in second.rows.items()} == archived


def test_no_lookup_when_wayback_api_url_is_empty(tmp_path: Path, site: LocalSite) -> None:
    gone = f"{site.base()}/status/404"
    run = Tap(tmp_path, site, [gone], wayback_api_url="").run()
    assert run.rows[gone]["error"] == "http_error"
    assert run.rows[gone]["archived_url"] is None
    assert run.wayback == []


# -- item 8: a cache that can never stop a run, nor touch what is not its own ---------------


def folder_state(folder: Path) -> dict[str, bytes | str]:
    """Every entry of ``folder`` (recursively): a file's bytes, or the kind of entry."""
    state: dict[str, bytes | str] = {}
    for path in sorted(folder.rglob("*")):
        key = str(path.relative_to(folder))
        state[key] = path.read_bytes() if path.is_file() else "folder"
    return state


def foreign_sqlite(path: Path, *, wal: bool) -> None:
    """Another application's database, with a table named like ours."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        if wal:
            db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE pages (id INTEGER PRIMARY KEY, title TEXT)")
        db.execute("INSERT INTO pages (title) VALUES ('their data')")
        db.commit()


def newer_cache(path: Path) -> None:
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        db.execute("CREATE TABLE pages (url TEXT PRIMARY KEY, shape TEXT)")
        db.commit()


def damaged_cache(path: Path) -> None:
    """Our cache with every page but the first (the header and schema) overwritten."""
    cache = PageCache(path)
    for n in range(200):
        cache.settle(Page(item_id="1", url=f"https://example.org/{n}", text="x" * 500), T0)
    cache.close()
    size = path.stat().st_size
    with path.open("r+b") as file:
        file.seek(4096)
        file.write(b"\xa5" * (size - 4096))


BAD_CACHES: dict[str, tuple[t.Callable[[Path], object], str]] = {
    "garbage": (
        lambda p: p.write_bytes(b"not a database at all\n" * 300),
        "is not a SQLite database",
    ),
    "empty file": (lambda p: p.write_bytes(b""), "is an empty file"),
    "another application's (WAL)": (
        lambda p: foreign_sqlite(p, wal=True),
        "is another application's SQLite database (application_id 0, tables: pages)",
    ),
    "another application's": (
        lambda p: foreign_sqlite(p, wal=False),
        "is another application's SQLite database",
    ),
    "a newer tap-pocket's": (newer_cache, "was written by a newer tap-pocket (cache schema 3"),
    "a folder": (lambda p: p.mkdir(), "is not a file"),
    "damaged": (damaged_cache, "failed during the run (database disk image is malformed)"),
}


@pytest.mark.parametrize("kind", list(BAD_CACHES))
def test_a_cache_that_cannot_be_used_is_one_warning(
    tmp_path: Path, site: LocalSite, kind: str
) -> None:
    article = f"{site.base()}/article/{ARTICLE}"
    tap = Tap(tmp_path, site, [article])
    tap.cache.parent.mkdir()
    make, reason = BAD_CACHES[kind]
    make(tap.cache)
    before = folder_state(tap.cache.parent)
    for _ in range(2):
        run = tap.run()
        assert len(run.items) == len(run.highlights) == 1  # everything arrives
        assert run.rows[article]["error"] is None
        assert run.rows[article]["title"]
        assert run.fetched == [article]  # fetched each run: nothing kept
        assert run.summary["cached"] == 0
        assert len(run.warnings) == 1, run.warnings
        assert f"pages: not using the page cache {tap.cache}: it {reason}" in run.warnings[0]
        if kind != "damaged":  # ours, but broken: not modified either, yet not asserted
            assert folder_state(tap.cache.parent) == before  # no byte, no side file


def without_root_powers() -> tuple[str, ...]:
    """A command prefix under which file modes bind this process, as they bind users.

    root reads and writes whatever the modes say; ``setpriv`` drops those powers.
    """
    if os.geteuid() != 0:
        return ()
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        unavailable("running as root without setpriv: file modes cannot be tested")
    return (setpriv, "--bounding-set=-dac_override,-dac_read_search")


def our_cache(path: Path) -> None:
    """A cache made by a run of this tap (one page in it)."""
    cache = PageCache(path)
    cache.settle(Page(item_id="1", url="https://example.org/", title="Kept"), T0)
    cache.close()


def unreadable_cache(path: Path) -> None:
    our_cache(path)
    path.chmod(0o000)


def read_only_cache(path: Path) -> None:
    our_cache(path)
    path.chmod(0o400)


LOCKED_CACHES: dict[str, tuple[t.Callable[[Path], object], str]] = {
    "unreadable file": (unreadable_cache, "cannot be read (Permission denied)"),
    "read-only file": (
        read_only_cache,
        "cannot be written (Permission denied)",
    ),
    "read-only folder": (lambda p: p.parent.chmod(0o500), "cannot be created (Permission denied)"),
}


@pytest.mark.parametrize("kind", list(LOCKED_CACHES))
def test_a_cache_the_user_cannot_write_is_one_warning(
    tmp_path: Path, site: LocalSite, kind: str
) -> None:
    prefix = without_root_powers()
    article = f"{site.base()}/article/{ARTICLE}"
    tap = Tap(tmp_path, site, [article])
    tap.cache.parent.mkdir()
    make, reason = LOCKED_CACHES[kind]
    make(tap.cache)
    before = folder_state(tap.cache.parent) if kind != "unreadable file" else None
    try:
        for _ in range(2):
            run = tap.run(prefix=prefix)
            assert len(run.items) == len(run.highlights) == 1
            assert run.rows[article]["title"]
            assert run.fetched == [article]
            assert len(run.warnings) == 1, run.warnings
            assert f"pages: not using the page cache {tap.cache}: it {reason}" in run.warnings[0]
            if before is not None:
                assert folder_state(tap.cache.parent) == before
    finally:
        tap.cache.parent.chmod(0o700)
        with contextlib.suppress(FileNotFoundError):
            tap.cache.chmod(0o600)


def test_one_unreadable_entry_is_fetched_again(tmp_path: Path, site: LocalSite) -> None:
    base = site.base()
    urls = [f"{base}/article/{name}" for name in ARTICLES]
    tap = Tap(tmp_path, site, urls)
    first = tap.run()
    assert sorted(first.fetched) == sorted(urls)
    broken = {
        urls[0]: "UPDATE pages SET kept = x'00ff17' WHERE url = ?",  # not JSON
        urls[1]: "UPDATE pages SET kept = '{\"title\": 1}' WHERE url = ?",  # not a row
        urls[2]: "UPDATE pages SET failures = 'many' WHERE url = ?",  # not a count
    }
    with contextlib.closing(sqlite3.connect(tap.cache)) as db:
        for url, statement in broken.items():
            db.execute(statement, (url,))
        db.commit()
    second = tap.run()
    assert sorted(second.fetched) == sorted(broken)  # the fourth from the cache
    assert {row["error"] for row in second.rows.values()} == {None}
    assert [row["title"] for row in second.rows.values()] == [
        first.rows[url]["title"] for url in second.rows
    ]
    assert len(second.warnings) == 1
    assert f"the page cache {tap.cache} holds entries that cannot be read" in second.warnings[0]
    assert all(url not in second.warnings[0] for url in urls)  # a URL may hold a secret
    third = tap.run()  # the entries were stored again, whole
    assert (third.fetched, third.warnings) == ([], [])


def test_created_private_in_private_folders(tmp_path: Path, site: LocalSite) -> None:
    article = f"{site.base()}/article/{ARTICLE}"
    tap = Tap(tmp_path, site, [article])
    tap.cache = tmp_path / "made" / "by" / "the tap" / "pages.sqlite3"
    tap.config["fetch_cache_path"] = str(tap.cache)
    for _ in range(2):
        run = tap.run(umask=0)  # the modes do not come from the umask
        assert run.warnings == []
    assert run.fetched == []  # the second run from the cache
    for folder in (tmp_path / "made", tmp_path / "made" / "by", tap.cache.parent):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(tap.cache.stat().st_mode) == 0o600
    assert sorted(p.name for p in tap.cache.parent.iterdir()) == ["pages.sqlite3"]

    # A folder the user made keeps the mode the user gave it.
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)
    tap.cache = shared / "pages.sqlite3"
    tap.config["fetch_cache_path"] = str(tap.cache)
    tap.run(umask=0)
    assert stat.S_IMODE(shared.stat().st_mode) == 0o755
    assert stat.S_IMODE(tap.cache.stat().st_mode) == 0o600


def test_side_files_are_private_too(tmp_path: Path) -> None:
    """SQLite's -wal and -shm files, there while the cache is open, are 0600 too."""
    path = tmp_path / "pages.sqlite3"
    old = os.umask(0)
    try:
        cache = PageCache(path)
        cache.settle(Page(item_id="1", url="https://example.org/", title="A"), T0)
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
        cache.close()
    finally:
        os.umask(old)
    assert modes == dict.fromkeys(
        ["pages.sqlite3", "pages.sqlite3-wal", "pages.sqlite3-shm"], 0o600
    )


# -- item 8: the unversioned cache of earlier builds (schema 1), migrated --------------------


def test_a_v1_cache_is_migrated(tmp_path: Path, site: LocalSite) -> None:
    base = site.base()
    kept = {
        f"{base}/article/{ARTICLE}": Page(item_id="1", title="Kept by schema 1", text="Its text"),
        f"{base}/status/404": Page(item_id="2", http_status=404, error="http_error"),
        f"{base}/doc.pdf": Page(item_id="3", http_status=200, error="not_html"),
    }
    dropped = {  # kept by schema 1 although it may have been passing: fetched again
        f"{base}/down/a": Page(item_id="4", error="timeout"),
        f"{base}/down/b": Page(item_id="5", error="connection"),
        f"{base}/down/c": Page(item_id="6", http_status=503, error="http_error"),
        f"{base}/down/d": Page(item_id="7", error="dns"),
        f"{base}/down/e": Page(item_id="8", http_status=200),  # "ok" with nothing read
    }
    tap = Tap(tmp_path, site, [*kept, *dropped])
    old = os.umask(0o022)  # as most users have it
    try:
        # The schema 1 cache module as it was (tests/fixtures/pages/cache_v1.py).
        v1 = load_module(Path(__file__).parent / "fixtures" / "pages" / "cache_v1.py").PageCache(
            tap.cache
        )
        for url, page in {**kept, **dropped}.items():
            v1.store(Page(**{**_fields(page), "url": url}))
        v1.store_robots(base, "User-agent: *\nDisallow: /private/\n")
        v1.close()
    finally:
        os.umask(old)
    assert stat.S_IMODE(tap.cache.stat().st_mode) == 0o644  # schema 1 left it readable by all

    run = tap.run()
    assert run.warnings == []
    assert sorted(run.fetched) == sorted(dropped)
    assert "/robots.txt" not in site.paths()  # the robots.txt answer was kept, too
    assert run.rows[f"{base}/article/{ARTICLE}"]["title"] == "Kept by schema 1"
    assert run.rows[f"{base}/article/{ARTICLE}"]["attempts"] is None  # not known from schema 1
    assert run.rows[f"{base}/status/404"]["error"] == "http_error"
    assert {run.rows[url]["error"] for url in dropped} == {None}  # /down/ answers now
    assert {run.rows[url]["attempts"] for url in dropped} == {1}
    assert stat.S_IMODE(tap.cache.stat().st_mode) == 0o600
    with contextlib.closing(sqlite3.connect(tap.cache)) as db:
        assert db.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    again = tap.run()
    assert (again.fetched, again.warnings) == ([], [])


def _fields(page: Page) -> dict[str, t.Any]:
    return {name: getattr(page, name) for name in page.__struct_fields__}
