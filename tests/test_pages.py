"""The ``pages`` stream against the local test site: rows, limits, safety, errors, cache."""

from __future__ import annotations

import contextlib
import csv
import json
import re
import sqlite3
import subprocess
import sys
import time
import typing as t
from pathlib import Path

import pytest

from pocket_emulator import Account, FakeClock, PocketEmulator
from tap_pocket.pages import safety
from tap_pocket.pages.robots import ROBOTS_MAX_AGE
from tap_pocket.rows import PAGE_SCHEMA, Page
from tap_pocket.tap import TapPocket

from .conftest import CLOCK_START, config_for, run_cli, run_tap
from .test_pages_site import ARTICLES, LocalSite

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    from .conftest import SyncOutput

ERROR_CODES = {
    "timeout",
    "dns",
    "tls",
    "connection",
    "http_error",
    "server_error",
    "too_large",
    "not_html",
    "private_address",
    "robots",
    "too_many_redirects",
}


@pytest.fixture
def site() -> Iterator[LocalSite]:
    with LocalSite(hosts=3) as running:
        yield running


def write_export(tmp_path: Path, urls: list[str]) -> Path:
    """A Pocket CSV export (part_000000.csv) with one unread item per URL."""
    path = tmp_path / "part_000000.csv"
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["title", "url", "time_added", "tags", "status"])
        for n, url in enumerate(urls):
            writer.writerow([f"Item {n}", url, 1_600_000_000 + n, "", "unread"])
    return path


def selecting(config: dict[str, t.Any], *names: str) -> dict[str, t.Any]:
    """The tap's catalog with exactly the streams ``names`` selected."""
    catalog = TapPocket(config=config, parse_env_config=False).catalog_dict
    for stream in catalog["streams"]:
        for entry in stream["metadata"]:
            if entry["breadcrumb"] == []:
                entry["metadata"]["selected"] = stream["tap_stream_id"] in names
    return catalog


def export_config(
    tmp_path: Path, site: LocalSite, urls: list[str], **settings: t.Any
) -> dict[str, t.Any]:
    return {
        "export_path": str(write_export(tmp_path, urls)),
        "fetch_private_addresses": True,  # the test site is on loopback
        "fetch_cache_path": str(tmp_path / "cache" / "pages.sqlite3"),
        "wayback_api_url": site.wayback_url,
        **settings,
    }


def api_config(emulator: PocketEmulator, tmp_path: Path, **settings: t.Any) -> dict[str, t.Any]:
    """Settings for the API path with ``pages``: links on loopback, no Wayback lookups."""
    return config_for(
        emulator,
        fetch_private_addresses=True,  # the test site is on loopback
        fetch_cache_path=str(tmp_path / "pages.sqlite3"),
        wayback_api_url="",
        **settings,
    )


def sync_pages(config: dict[str, t.Any]) -> SyncOutput:
    return run_tap(config, catalog=selecting(config, "items", "pages"))


def catalog_file(tmp_path: Path, config: dict[str, t.Any], *names: str) -> Path:
    """A catalog file selecting ``names`` (items and pages unless given), for the CLI."""
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(selecting(config, *(names or ("items", "pages")))))
    return path


def pages_by_url(output: SyncOutput) -> dict[str, dict[str, t.Any]]:
    return {row["url"]: row for row in output.records["pages"]}


def test_pages_not_selected_by_default(tmp_path: Path, site: LocalSite) -> None:
    config = export_config(tmp_path, site, [f"{site.base()}/article/{next(iter(ARTICLES))}"])
    output = run_tap(config)
    assert output.records["items"]
    assert "pages" not in output.records
    assert site.requests == []
    schema = next(
        s for s in TapPocket(config=config).catalog_dict["streams"] if s["stream"] == "pages"
    )
    root = next(m for m in schema["metadata"] if m["breadcrumb"] == [])
    assert root["metadata"]["selected-by-default"] is False
    assert schema["key_properties"] == ["item_id"]
    assert list(schema["schema"]["properties"]) == list(Page.__struct_fields__)
    assert schema["schema"] == PAGE_SCHEMA


def test_real_articles_give_their_metadata_and_text(tmp_path: Path, site: LocalSite) -> None:
    urls = [f"{site.base(n % 3)}/article/{name}" for n, name in enumerate(ARTICLES)]
    output = sync_pages(export_config(tmp_path, site, urls))
    rows = pages_by_url(output)
    items = {row["given_url"]: row["item_id"] for row in output.records["items"]}
    assert set(rows) == set(urls)
    for url, row in rows.items():
        assert row["item_id"] == items[url]
        assert row["error"] is None
        assert row["http_status"] == 200
        assert row["final_url"] == url
        assert row["content_type"] == "text/html"
        assert row["fetched_at"]
    nasa = rows[urls[list(ARTICLES).index("14cc2a0ca59c")]]
    assert nasa["title"].startswith("NASA Just Confirmed There Are Water Plumes")
    assert nasa["authors"] == ["Victor Tangermann", "Futurism"]
    assert nasa["published_at"] == "2019-11-18T00:00:00+00:00"
    assert nasa["site_name"] == "ScienceAlert"
    assert nasa["lang"] == "en-GB"  # <html lang="en-gb">, in BCP 47's case
    assert nasa["top_image_url"].startswith("https://www.sciencealert.com/images/")
    assert "Europa" in nasa["text"]
    assert nasa["word_count"] == len(re.findall(r"\S*\w\S*", nasa["text"])) > 300
    assert nasa["excerpt"]
    japanese = rows[urls[list(ARTICLES).index("85439e26c41c")]]
    assert japanese["lang"] == "ja"
    # Each kanji or kana is a word (as CJK word counters count), not each run of them
    # between spaces.
    kanji_and_kana = len(re.findall(r"[\u3040-\u30ff\u4e00-\u9fff]", japanese["text"]))
    assert japanese["word_count"] >= kanji_and_kana > 600
    assert "商標法" in japanese["title"]
    # Polite and anonymous: who is fetching is said; the cookies the pages set never return.
    assert all(
        agent.startswith("tap-pocket/") and "https://" in agent for agent in site.user_agents
    )
    assert site.cookies_seen == []


def test_per_host_limit_and_concurrency(tmp_path: Path) -> None:
    """Never more than 2 requests per host nor fetch_concurrency in all; every host served.

    A lopsided library: one host holds 40 of the 52 links and answers in 0.2 s, so its
    last link cannot be asked before 19 answers of it have come (3.8 s); the 12 hosts with
    one link each are all asked before that, as the busy host's links wait for its own
    slots, never holding global ones.
    """
    with LocalSite(hosts=13, delay=0.2) as slow_site:
        name = next(iter(ARTICLES))
        busy = [f"{slow_site.base(0)}/article/{name}?n={n}" for n in range(40)]
        tail = [f"{slow_site.base(n)}/article/{name}?n={n}" for n in range(1, 13)]
        config = export_config(
            tmp_path, slow_site, busy + tail, fetch_respect_robots=False, fetch_concurrency=4
        )
        catalog = catalog_file(tmp_path, config)
        result = run_cli("--catalog", str(catalog), config=config, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = result.output.records["pages"]
    assert len(rows) == 52
    assert all(row["error"] is None for row in rows)
    assert max(slow_site.max_in_flight.values()) <= 2  # never more than 2 per host
    assert slow_site.max_total_in_flight <= 4  # never more than fetch_concurrency
    arrived = {request.host: request.at for request in slow_site.log}  # each host's last
    assert set(arrived) == {f"127.0.0.{2 + n}" for n in range(13)}  # every host served
    assert all(arrived[f"127.0.0.{2 + n}"] < arrived["127.0.0.2"] for n in range(1, 13))


def test_error_codes(tmp_path: Path, site: LocalSite) -> None:
    """One link for each error code, with every other row still arriving."""
    base, other = site.base(0), site.base(1)
    port = other.rsplit(":", 1)[1]
    cases = {
        f"{base}/slow?s=30": "timeout",
        "http://no-such-host.invalid/page": "dns",
        f"https://127.0.0.3:{port}/article/x": "tls",  # TLS to a plain-HTTP server
        "http://127.0.0.2:1/closed": "connection",
        "not a url at all": "connection",
        f"{base}/status/404": "http_error",
        f"{base}/status/410": "http_error",
        f"{other}/status/500": "server_error",
        f"{base}/huge?mb=1": "too_large",
        f"{base}/doc.pdf": "not_html",
        f"{base}/binary": "not_html",
        f"{base}/private/{next(iter(ARTICLES))}": "robots",
        f"{other}/no-taps/{next(iter(ARTICLES))}": "robots",
        f"{base}/loop": "too_many_redirects",
        f"{base}/redirect/11/article/{next(iter(ARTICLES))}": "too_many_redirects",
        f"{base}/redirect/10/article/{next(iter(ARTICLES))}": None,
        f"{base}/malformed": None,
        f"{base}/wrong-charset": None,
        f"{base}/no-charset": None,
    }
    config = export_config(
        tmp_path, site, list(cases), fetch_timeout_seconds=2, fetch_max_bytes=100_000
    )
    rows = pages_by_url(sync_pages(config))
    assert {url: row["error"] for url, row in rows.items()} == cases
    assert {code for code in cases.values() if code} == ERROR_CODES - {"private_address"}
    assert rows[f"{base}/status/410"]["http_status"] == 410
    assert rows[f"{base}/huge?mb=1"]["title"] == "Huge page"  # what the part read says
    assert rows[f"{base}/doc.pdf"]["content_type"] == "application/pdf"
    assert rows[f"{base}/redirect/10/article/{next(iter(ARTICLES))}"]["final_url"] == (
        f"{base}/article/{next(iter(ARTICLES))}"
    )
    assert rows[f"{base}/wrong-charset"]["title"].startswith("Caf")
    assert rows[f"{base}/no-charset"]["title"] == "日本語のページ"
    assert rows[f"{base}/malformed"]["title"] == "Broken"
    # Definite deaths (4xx, no such host) have the double's archived copy when it has one
    # (for /status/ and port-1 URLs), with the item's time_added; a first passing failure
    # (timeout, refused, TLS, 5xx) is not looked up (test_pages_cache.py: when it is).
    assert rows[f"{base}/status/404"]["archived_url"] == (
        f"{site.base(0)}/web/20200913122645/{base}/status/404"
    )
    assert rows["http://127.0.0.2:1/closed"]["archived_url"] is None
    assert rows[f"{other}/status/500"]["archived_url"] is None
    assert rows[f"{base}/doc.pdf"]["archived_url"] is None
    # robots.txt was read, and the disallowed paths were not requested.
    assert not [p for p in site.paths() if p.startswith(("/private/", "/no-taps/"))]


def test_a_dripping_server_ends_at_the_deadline(tmp_path: Path, site: LocalSite) -> None:
    config = export_config(tmp_path, site, [f"{site.base()}/drip"], fetch_timeout_seconds=2)
    (row,) = sync_pages(config).records["pages"]
    assert row["error"] == "timeout"
    assert row["http_status"] == 200  # the answer began; its body never ended


def test_retry_after_is_honoured(tmp_path: Path, site: LocalSite) -> None:
    url = f"{site.base()}/flaky/one"
    (row,) = sync_pages(export_config(tmp_path, site, [url])).records["pages"]
    assert row["error"] is None
    assert row["title"]
    assert site.hits["/flaky/one"] == 2
    first, second = (r.at for r in site.log if r.path == "/flaky/one")
    assert second - first >= 1  # Retry-After: 1


def test_private_addresses_refused_by_default(tmp_path: Path, site: LocalSite) -> None:
    urls = [
        f"{site.base()}/article/{next(iter(ARTICLES))}",
        "http://169.254.169.254/latest/meta-data/",
        "http://localhost:9/",
        "http://[::1]:9/",
        "http://2130706433/",  # 127.0.0.1 as one number
    ]
    config = export_config(tmp_path, site, urls, fetch_private_addresses=False)
    rows = pages_by_url(sync_pages(config))
    assert {url: row["error"] for url, row in rows.items()} == dict.fromkeys(
        urls, "private_address"
    )
    assert site.requests == []  # not even robots.txt


def test_a_redirect_to_a_private_address_is_refused(
    tmp_path: Path, site: LocalSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    """127.0.0.2 plays a public site here; it redirects to 127.0.0.3, a private one."""
    real = safety.is_public
    monkeypatch.setattr(
        safety, "is_public", lambda address: str(address) == "127.0.0.2" or real(address)
    )
    target = f"{site.base(1)}/article/{next(iter(ARTICLES))}"
    public = f"{site.base(0)}/elsewhere?to={target}"
    config = export_config(tmp_path, site, [public, target], fetch_private_addresses=False)
    rows = pages_by_url(sync_pages(config))
    assert rows[public]["error"] == "private_address"
    assert rows[public]["http_status"] == 301
    assert rows[public]["final_url"] == target
    assert rows[target]["error"] == "private_address"
    assert {host for host, _ in site.requests} == {"127.0.0.2"}


def test_cache_second_run_sends_no_request(tmp_path: Path, site: LocalSite) -> None:
    urls = [f"{site.base(n % 3)}/article/{name}" for n, name in enumerate(ARTICLES)]
    urls.append(f"{site.base()}/status/404")
    config = export_config(tmp_path, site, urls)
    first = sync_pages(config).records["pages"]
    requests = len(site.requests)
    second = sync_pages(config).records["pages"]
    assert len(site.requests) == requests
    assert sorted(first, key=lambda r: r["url"]) == sorted(second, key=lambda r: r["url"])
    # A run with one more link fetches only that one (an interrupted run resumes so).
    more = [*urls, f"{site.base(2)}/status/410"]
    third = sync_pages(export_config(tmp_path, site, more)).records["pages"]
    assert len(third) == len(more)
    fetched = [p for _, p in site.requests[requests:] if p != "/robots.txt"]
    assert fetched[0] == "/status/410"
    assert fetched[1].startswith("/wayback/available?url=")
    assert len(fetched) == 2
    # fetch_refresh_days 0: everything again.
    sync_pages(export_config(tmp_path, site, urls, fetch_refresh_days=0))
    assert site.paths().count(f"/article/{next(iter(ARTICLES))}") == 2


def test_api_path_and_credentials_stay_home(tmp_path: Path, site: LocalSite) -> None:
    account = Account(FakeClock(start=CLOCK_START))
    urls = [f"{site.base(n % 3)}/article/{name}" for n, name in enumerate(ARTICLES)]
    ids = [account.add_item(url, title=f"Item {n}") for n, url in enumerate(urls)]
    gone = account.add_item(f"{site.base()}/article/deleted", status="2")
    with PocketEmulator(account) as emulator:
        config = api_config(emulator, tmp_path, page_size=3)
        output = run_tap(config, catalog=selecting(config, "items", "highlights", "pages"))
        secrets = (emulator.access_token, emulator.consumer_key)
    rows = {row["item_id"]: row for row in output.records["pages"]}
    assert sorted(rows) == sorted(ids)  # the deleted item is not fetched
    assert gone not in rows
    assert all(row["error"] is None and row["title"] for row in rows.values())
    seen = "\n".join(site.headers_seen) + "\n".join(site.paths())
    assert not [secret for secret in secrets if secret in seen]


def test_cli_progress_and_summary(tmp_path: Path, site: LocalSite) -> None:
    urls = [f"{site.base(n % 3)}/article/{name}" for n, name in enumerate(ARTICLES)]
    urls += [
        f"{site.base()}/status/404",
        f"{site.base()}/private/x",
        f"{site.base()}/redirect/1/article/{next(iter(ARTICLES))}",
    ]
    config = export_config(tmp_path, site, urls)
    catalog = catalog_file(tmp_path, config)
    result = run_cli("--catalog", str(catalog), config=config, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert len(result.output.records["pages"]) == len(urls)
    assert "Traceback" not in result.stderr
    summary = [line for line in result.stderr.splitlines() if "pages: 7 done" in line]
    assert summary, result.stderr
    assert (
        "5 ok, 1 redirected, 1 dead, 1 archived copies found, 0 to retry on a later run, "
        "1 skipped, 0 without an article, 0 from the cache" in summary[0]
    )


def test_pages_selected_alone(tmp_path: Path, site: LocalSite) -> None:
    """Without items selected, the items are still read (for their links) but not written."""
    article = f"{site.base()}/article/{next(iter(ARTICLES))}"
    urls = [article, "mailto:someone@example.com"]
    config = export_config(tmp_path, site, urls)
    output = run_tap(config, catalog=selecting(config, "pages"))
    assert "items" not in output.records
    rows = pages_by_url(output)
    assert rows[article]["error"] is None
    assert rows["mailto:someone@example.com"]["error"] == "connection"  # not http(s): a row


def children_of(pid: int) -> list[int]:
    """The ids of the processes whose parent is ``pid`` (Linux /proc)."""
    found = []
    for path in Path("/proc").iterdir():
        if path.name.isdigit():
            try:
                stat = (path / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(path.name))
    return found


def stored_urls(cache: Path) -> int:
    """How many pages the cache holds (0 before it exists)."""
    if not cache.exists():
        return 0
    with contextlib.closing(sqlite3.connect(f"file:{cache}?mode=ro", uri=True)) as db:
        try:
            return int(db.execute("SELECT count(*) FROM pages").fetchone()[0])
        except sqlite3.OperationalError:  # the table is not there yet
            return 0


def test_an_interrupted_run_resumes(tmp_path: Path) -> None:
    """The tap killed mid-run: the next run fetches only what the cache does not hold."""
    with LocalSite(hosts=2, delay=0.25) as slow_site:
        urls = [f"{slow_site.base(n % 2)}/article/{next(iter(ARTICLES))}?n={n}" for n in range(40)]
        config = export_config(tmp_path, slow_site, urls, fetch_concurrency=2)
        (tmp_path / "config.json").write_text(json.dumps(config))
        catalog = tmp_path / "catalog.json"
        catalog.write_text(json.dumps(selecting(config, "items", "pages")))
        command = [sys.executable, "-m", "tap_pocket", "--config", str(tmp_path / "config.json")]
        process = subprocess.Popen(
            [*command, "--catalog", str(catalog)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        cache = Path(config["fetch_cache_path"])
        while stored_urls(cache) < 3:  # some pages are in the cache, most are not
            assert time.monotonic() < deadline
            time.sleep(0.05)
        workers = children_of(process.pid)
        assert workers  # the extraction workers
        process.kill()
        process.wait()
        # Killed, the tap cannot stop its workers: they notice and end by themselves.
        while any(Path(f"/proc/{pid}").exists() for pid in workers):
            assert time.monotonic() < deadline, "extraction workers outlived the tap"
            time.sleep(0.1)
        with contextlib.closing(sqlite3.connect(config["fetch_cache_path"])) as db:
            stored = {url for (url,) in db.execute("SELECT url FROM pages")}
        assert 0 < len(stored) < len(urls)
        before = len(slow_site.requests)
        result = run_cli("--catalog", str(catalog), config=config, tmp_path=tmp_path)
        assert result.returncode == 0, result.stderr
        bases = {f"127.0.0.{2 + n}": slow_site.base(n) for n in range(2)}
        again = {
            bases[host] + path
            for host, path in slow_site.requests[before:]
            if path.startswith("/article/")
        }
    assert again == set(urls) - stored
    assert len(result.output.records["pages"]) == len(urls)


def test_robots_txt_is_kept_for_a_day(tmp_path: Path, site: LocalSite) -> None:
    """A site's robots.txt is asked once a day, not once a run (RFC 9309: at most 24 h).

    The links are fetched again each run (fetch_refresh_days 0); the sites' robots.txt
    files come from the cache until they are a day old (which answers are kept:
    test_pages_units.py, test_robots_answers_kept_are_the_definite_ones).
    """
    urls = [f"{site.base(n % 3)}/article/{name}" for n, name in enumerate(ARTICLES)]
    urls.append(f"{site.base()}/private/{next(iter(ARTICLES))}")
    config = export_config(tmp_path, site, urls, fetch_refresh_days=0)

    def robots_requests() -> int:
        return sum(1 for _, path in site.requests if path == "/robots.txt")

    first = pages_by_url(sync_pages(config))
    asked = robots_requests()
    assert asked == len({url.split("/")[2] for url in urls})  # once per origin
    second = pages_by_url(sync_pages(config))
    assert robots_requests() == asked  # kept: not asked again
    assert {u: r["error"] for u, r in second.items()} == {u: r["error"] for u, r in first.items()}
    assert second[urls[-1]]["error"] == "robots"  # the kept rules still apply

    cache = sqlite3.connect(config["fetch_cache_path"])
    with cache:
        cache.execute("UPDATE robots SET stored_at = stored_at - ?", (ROBOTS_MAX_AGE + 60,))
    cache.close()
    sync_pages(config)
    assert robots_requests() == 2 * asked  # a day later: asked again
