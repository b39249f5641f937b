"""The ``pages`` stream's fetching on a local "real web", each case through the real CLI.

The tap runs as the ``tap-pocket`` command in a subprocess; the site
(tests/test_pages_site.py) runs in this process on every 127.x.y.z address. What is
checked: scheduling (no batch barrier, deadlines that count only a link's own work,
politeness, host pauses), what each answer is reported as (status codes, cut bodies,
content codings and their bombs, refresh redirects), and the paths that emit ``pages``
(export and API, stream maps, activate-version, BATCH, pages selected alone).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import typing as t
from collections import Counter
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from pocket_emulator import Account, FakeClock, PocketEmulator
from tap_pocket.pages import safety
from tap_pocket.pages.batches import ITEMS_PER_CONTEXT

from .conftest import CLOCK_START, run_cli
from .test_export_batch import read_batches
from .test_pages import api_config, catalog_file, export_config, pages_by_url, sync_pages
from .test_pages_site import (
    BOMB_HEAD,
    REDIRECTOR,
    LocalSite,
    bomb,
    gzip_bomb,
    heavy_tailed,
    library,
)

if t.TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from .conftest import CliResult

NASA = "14cc2a0ca59c"
NASA_TITLE = "NASA Just Confirmed There Are Water Plumes"


@pytest.fixture
def site() -> Iterator[LocalSite]:
    with LocalSite(hosts=3) as running:
        yield running


def run_pages(
    tmp_path: Path,
    site: LocalSite,
    urls: list[str],
    *names: str,
    env: dict[str, str] | None = None,
    **settings: t.Any,
) -> CliResult:
    """The tap's CLI on an export of ``urls`` (items and pages selected unless ``names``)."""
    config = export_config(tmp_path, site, urls, **settings)
    catalog = catalog_file(tmp_path, config, *names)
    result = run_cli(
        "--catalog", str(catalog), config=config, tmp_path=tmp_path, env=env, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    return result


# -- scheduling ---------------------------------------------------------------------------


def test_a_real_web_library(tmp_path: Path) -> None:
    """240 links over the host mix of real exports, answers of 0.3 s median, a few over 5 s.

    Every link answers within the deadline (20 s), so every link gets its page: no false
    timeout; a first 503 is retried in the run; a first reset is a passing failure, tried
    again by the next run; the t.co-like links followed through their meta refresh to the
    article. Politeness holds throughout.
    """
    with LocalSite(latency=heavy_tailed(cap=6.0)) as web:
        urls = library(web, 240)
        first = pages_by_url(run_pages(tmp_path, web, urls).output)
        second = pages_by_url(run_pages(tmp_path, web, urls).output)
        hits = Counter(web.paths())
        max_per_host = max(web.max_in_flight.values())
        max_total = web.max_total_in_flight
        hosts_asked = {host for host, _ in web.requests}

    def path(url: str) -> str:
        parts = urlsplit(url)
        return f"{parts.path}?{parts.query}"

    def target(url: str) -> str:
        """The article a link leads to (through the shortener or not)."""
        if urlsplit(url).hostname == REDIRECTOR:
            return unquote(parse_qs(urlsplit(url).query)["to"][0])
        return url

    resets = {url for url in urls if "/first/reset/" in url}
    assert resets
    failed = {url: row["error"] for url, row in first.items() if row["error"]}
    # Each reset path failed once: for the link itself, or for a shortened link to it.
    assert set(failed.values()) == {"connection"}
    assert {target(url) for url in failed} == resets
    assert len(failed) == len(resets)
    assert all(hits[path(url)] >= 2 for url in urls if "/first/" in url)  # asked again
    # The next run fetched the failed links again, and the others came from the cache.
    assert set(second) == set(urls)
    assert {url: row["error"] for url, row in second.items()} == dict.fromkeys(urls)
    assert all(row["title"] and row["http_status"] == 200 for row in second.values())
    for url in urls:
        assert second[url]["final_url"] == target(url)
        assert second[url]["title"] == second[target(url)]["title"]
    assert max_per_host <= 2
    assert max_total <= 16
    assert hosts_asked >= {urlsplit(url).hostname for url in urls}


def test_queueing_is_not_a_timeout(tmp_path: Path) -> None:
    """No false timeouts: a link's deadline counts its own request, not its wait for a slot.

    80 links on one host answering in 0.25 s: the last waits 10 s for its slot, its
    deadline is 4 s, and none of them times out.
    """
    with LocalSite(hosts=1, delay=0.25) as slow:
        urls = [f"{slow.base()}/tiny/{n}" for n in range(80)]
        result = run_pages(tmp_path, slow, urls, fetch_timeout_seconds=4)
        assert max(slow.max_in_flight.values()) <= 2
    rows = result.output.records["pages"]
    assert len(rows) == 80
    assert [row["error"] for row in rows] == [None] * 80


def test_a_slow_link_holds_up_no_other_link(tmp_path: Path, site: LocalSite) -> None:
    """No batch barrier: the links of later contexts go on while an earlier one is slow.

    More links than one context holds; the third of them answers only once every other
    link has had its answer. With a barrier at the end of each context, the second
    context's links could not be asked before the third link's answer: it would end in
    ``timeout`` (its deadline, 90 s; the site holds it 120 s at most) with them unasked.
    """
    count = ITEMS_PER_CONTEXT + 60
    urls = [f"{site.at(f'127.2.0.{1 + n % 30}')}/tiny/{n}" for n in range(count)]
    held = f"{site.base()}/hold?tiny={count - 1}"
    urls[2] = held
    result = run_pages(tmp_path, site, urls, fetch_timeout_seconds=90)
    rows = pages_by_url(result.output)
    assert set(rows) == set(urls)
    assert {url: row["error"] for url, row in rows.items()} == dict.fromkeys(urls)
    (answer,) = [r for r in site.log if r.path.startswith("/hold")]
    assert answer.done is not None
    later = [
        r for r in site.log if r.path.startswith("/tiny/") and int(r.path[6:]) > ITEMS_PER_CONTEXT
    ]
    assert len(later) == count - ITEMS_PER_CONTEXT - 1
    assert all(r.done is not None and r.done <= answer.done for r in later)


def test_rows_reach_stdout_while_a_link_is_still_under_way(tmp_path: Path, site: LocalSite) -> None:
    """Rows leave as their links complete: none waits in the tap's output for a slow link.

    The gated link answers only once this test has read every other link's row from the
    tap's stdout (or after 60 s). Were rows held in an output buffer until the run's end,
    the gate would open by its 60 s, not by the test.
    """
    urls = [f"{site.at(f'127.2.0.{1 + n % 20}')}/tiny/{n}" for n in range(100)]
    gated = f"{site.base()}/gate?name=rows-read"
    config = export_config(tmp_path, site, [*urls, gated], fetch_timeout_seconds=90)
    (tmp_path / "config.json").write_text(json.dumps(config))
    catalog = catalog_file(tmp_path, config)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAP_POCKET_")}
    command = [sys.executable, "-m", "tap_pocket", "--config", "config.json"]
    with subprocess.Popen(
        [*command, "--catalog", str(catalog)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=tmp_path,
    ) as tap:
        assert tap.stdout is not None
        rows: dict[str, dict[str, t.Any]] = {}
        for line in tap.stdout:
            message = json.loads(line)
            if message["type"] == "RECORD" and message["stream"] == "pages":
                rows[message["record"]["url"]] = message["record"]
                if set(urls) <= set(rows):
                    site.gates["rows-read"].set()
    assert tap.returncode == 0
    assert site.gates_timed_out == set()  # opened by this test, having read the rows
    assert list(rows)[-1] == gated
    assert {url: row["error"] for url, row in rows.items()} == dict.fromkeys([*urls, gated])


def test_a_host_asking_to_wait_is_left_alone_without_costing_deadlines(
    tmp_path: Path,
) -> None:
    """After a 429 the host is paused as Retry-After says; the wait costs no deadline.

    The first answer of the host is 429 with Retry-After: 2; its 10 other links (0.3 s
    each, one at a time) wait the 2 s without that counting against their 3 s deadline.
    """
    with LocalSite(
        hosts=1, latency=lambda _h, path: 0 if path.startswith("/first/") else 0.3
    ) as web:
        first = f"{web.base()}/first/429/tiny/0?retry-after=2"
        urls = [first] + [f"{web.base()}/tiny/{n}" for n in range(1, 11)]
        result = run_pages(tmp_path, web, urls, fetch_timeout_seconds=3, fetch_concurrency=1)
        asked = [(r.path, r.at) for r in web.log if r.path != "/robots.txt"]
    rows = pages_by_url(result.output)
    assert {url: row["error"] for url, row in rows.items()} == dict.fromkeys(urls)
    limited_at = next(at for path, at in asked if path == urlsplit(first).path + "?retry-after=2")
    later = [at for _, at in asked if at > limited_at]
    assert later
    assert min(later) - limited_at >= 2  # nobody asked the host before Retry-After passed


# -- what came back -------------------------------------------------------------------------


def test_what_each_answer_is_reported_as(tmp_path: Path, site: LocalSite) -> None:
    base, other = site.base(0), site.base(1)
    limited = site.at("127.0.0.9")
    cases = {
        f"{base}/status/401": "blocked",
        f"{base}/status/403": "blocked",
        f"{base}/status/999": "blocked",  # LinkedIn's bot wall
        f"{base}/status/408": "timeout",
        f"{base}/status/500": "server_error",
        f"{other}/status/502": "server_error",
        f"{base}/status/404": "http_error",
        f"{base}/status/410": "http_error",
        f"{other}/status/418": "http_error",
        f"{other}/status/451": "http_error",
        # Always 503: retried after Retry-After (1 s) until the attempts are spent.
        f"{other}/status/503?retry-after=1": "rate_limited",
        # Come back in an hour: not slept on. The host is left alone for the run: its
        # other links are not asked either, and are tried again next run.
        f"{limited}/status/429?retry-after=3600": "rate_limited",
        f"{limited}/tiny/1": "rate_limited",
        f"{limited}/tiny/2": "rate_limited",
        "http://no-such-host.invalid/page": "dns",
        f"{base}/truncated": "truncated",
        f"{other}/cut-chunked": "truncated",
        f"{base}/tiny/ok": None,
    }
    result = run_pages(tmp_path, site, list(cases), fetch_concurrency=1)
    rows = pages_by_url(result.output)
    assert {url: row["error"] for url, row in rows.items()} == cases
    assert rows[f"{base}/status/999"]["http_status"] == 999
    assert rows[f"{limited}/status/429?retry-after=3600"]["http_status"] == 429
    assert rows[f"{limited}/tiny/1"]["http_status"] is None  # never asked
    assert [p for h, p in site.requests if h == "127.0.0.9" and p != "/robots.txt"] == [
        "/status/429?retry-after=3600"
    ]
    assert site.hits["/status/503?retry-after=1"] == 3
    # A body cut short: the part that came is the page's start, and is read.
    for url in (f"{base}/truncated", f"{other}/cut-chunked"):
        assert rows[url]["http_status"] == 200
        assert rows[url]["title"].startswith(NASA_TITLE)
        assert rows[url]["text"]
    # Only the dead links are looked up in the archive; a passing failure is not dead.
    looked_up = {
        unquote(p.split("url=")[1].split("&")[0]) for p in site.paths() if p.startswith("/wayback/")
    }
    assert looked_up == {
        f"{base}/status/404",
        f"{base}/status/410",
        f"{other}/status/418",
        f"{other}/status/451",
        "http://no-such-host.invalid/page",
    }


def test_content_codings_and_their_bombs(tmp_path: Path) -> None:
    """One content coding is decoded (gzip, deflate, br, zstd), never more.

    A bomb stops at fetch_max_bytes of decoded output, on a page or on robots.txt.
    """
    stacked_robots = bomb(["gzip", "gzip"])
    one_layer_robots = gzip_bomb(1024)
    robots = {
        "127.0.0.7": (stacked_robots, {"Content-Encoding": "gzip, gzip"}),
        "127.0.0.8": (one_layer_robots, {"Content-Encoding": "gzip"}),
    }
    with LocalSite(hosts=3, robots=robots) as web:
        base = web.base()
        cases = {
            f"{base}/encoded/gzip/article/{NASA}": None,
            f"{base}/encoded/x-gzip/article/{NASA}": None,
            f"{base}/encoded/deflate/article/{NASA}": None,
            f"{base}/encoded/br/article/{NASA}": None,
            f"{base}/encoded/zstd/article/{NASA}": None,
            f"{base}/encoded/identity/article/{NASA}": None,
            f"{base}/encoded/gzip,gzip/article/{NASA}": "not_html",
            f"{base}/encoded/compress/article/{NASA}": "not_html",
            f"{base}/bomb/gzip": "too_large",  # 1 GiB of one layer: read up to the limit
            f"{base}/bomb/gzip,gzip": "not_html",
            f"{base}/bomb/gzip,gzip,gzip": "not_html",
            f"{web.at('127.0.0.7')}/tiny/a": None,  # robots.txt a stacked bomb: unread
            f"{web.at('127.0.0.8')}/tiny/b": None,  # robots.txt a 1 GiB bomb: 512 KiB read
        }
        result = run_pages(tmp_path, web, list(cases), fetch_max_bytes=1_000_000)
        asked = web.headers_seen
    rows = pages_by_url(result.output)
    assert {url: row["error"] for url, row in rows.items()} == cases
    for url, code in cases.items():
        if "/encoded/" in url and code is None:
            assert rows[url]["title"].startswith(NASA_TITLE), url
    assert rows[f"{base}/bomb/gzip"]["title"] == "Bomb"
    assert all("accept-encoding: gzip, deflate, br, zstd" in headers for headers in asked)
    assert BOMB_HEAD.startswith(b"<html>")


@pytest.mark.parametrize(
    ("form", "followed"),
    [
        ("meta", True),
        ("meta-reordered", True),
        ("meta-unquoted", True),
        ("header", True),
        ("script", True),
        ("reload", False),
    ],
)
def test_refresh_redirects_are_followed(
    tmp_path: Path, site: LocalSite, form: str, followed: bool
) -> None:
    article = f"{site.base(1)}/article/{NASA}"
    url = f"{site.base()}/refresh/{form}?to={article}"
    (row,) = run_pages(tmp_path, site, [url], "pages").output.records["pages"]
    assert row["error"] is None
    if followed:
        assert row["final_url"] == article
        assert row["title"].startswith(NASA_TITLE)
    else:  # a page that reloads itself now and then is the page
        assert row["final_url"] == url
        assert row["title"] == "Live blog"


def test_refresh_hops_count_toward_the_redirect_limit(tmp_path: Path, site: LocalSite) -> None:
    article = f"/article/{NASA}"
    ten = f"{site.base()}/refresh/chain?n=5&to=/redirect/5{article}"  # 5 + 5 hops
    eleven = f"{site.base()}/refresh/chain?n=6&to=/redirect/5{article}"  # 6 + 5 hops
    shortened = f"{site.at(REDIRECTOR)}/tco/1?to={site.base(2)}{article}"
    rows = pages_by_url(run_pages(tmp_path, site, [ten, eleven, shortened]).output)
    assert rows[ten]["error"] is None
    assert rows[ten]["final_url"] == site.base() + article
    assert rows[eleven]["error"] == "too_many_redirects"
    assert rows[shortened]["final_url"] == site.base(2) + article
    assert rows[shortened]["title"].startswith(NASA_TITLE)


def test_a_meta_refresh_to_a_private_address_is_refused(
    tmp_path: Path, site: LocalSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each refresh hop is checked as a 3xx hop is: 127.0.0.2 plays a public site here.

    In-process (the check is patched to call 127.0.0.2 public), unlike the other tests.
    """
    real = safety.is_public
    monkeypatch.setattr(
        safety, "is_public", lambda address: str(address) == "127.0.0.2" or real(address)
    )
    target = f"{site.base(1)}/article/{NASA}"
    public = f"{site.base(0)}/refresh/meta?to={target}"
    config = export_config(tmp_path, site, [public], fetch_private_addresses=False)
    (row,) = sync_pages(config).records["pages"]
    assert row["error"] == "private_address"
    assert row["final_url"] == target
    assert {host for host, _ in site.requests} == {"127.0.0.2"}


# -- logging --------------------------------------------------------------------------------


@pytest.mark.parametrize("level", ["info", "debug"])
def test_request_lines_are_logged_at_debug(tmp_path: Path, site: LocalSite, level: str) -> None:
    url = f"{site.base()}/tiny/1"
    result = run_pages(tmp_path, site, [url], env={"TAP_POCKET_LOGLEVEL": level})
    lines = [line for line in result.stderr.splitlines() if "HTTP Request: GET" in line]
    if level == "info":
        assert lines == []
        assert "pages: 1 done" in result.stderr  # the stream's own INFO lines stay
    else:
        assert any(url in line and "DEBUG" in line for line in lines)


# -- every path that emits pages ------------------------------------------------------------

#: Kept items, of LINKS: the filter drops every item whose URL says "drop", among them the
#: last ones of the library, so the last kept row is followed by dropped ones.
LINKS = ITEMS_PER_CONTEXT + 60
FILTER = {"items": {"__filter__": "'drop' not in (given_url or '')"}}


def path_urls(site: LocalSite) -> list[str]:
    urls = []
    for n in range(LINKS):
        dropped = n % 7 == 3 or n >= LINKS - 5
        host = site.at(f"127.3.0.{1 + n % 20}")
        urls.append(f"{host}/tiny/{n}" + ("?drop" if dropped else ""))
    return urls


@pytest.mark.parametrize("source", ["export", "api"])
@pytest.mark.parametrize("case", ["filter+activate_version", "batch", "pages alone"])
def test_every_path_gets_every_kept_link(
    tmp_path: Path, site: LocalSite, source: str, case: str
) -> None:
    """Each kept item's link has its row; no dropped item's link is fetched.

    Export and API, with a filter, activate-version, BATCH, pages alone or with items,
    more links than one context holds, the last items dropped by the filter. (A filter on
    ``items`` with ``items`` deselected is refused by the SDK's mapper at start: the
    deselected schema has no key properties; BATCH with stream maps is refused by the
    tap's settings check.)
    """
    urls = path_urls(site)
    settings: dict[str, t.Any] = {}
    if "filter" in case:
        settings["stream_maps"] = FILTER
    if "activate_version" in case:
        settings["emit_activate_version_messages"] = True
    if "batch" in case:
        settings["batch_config"] = {
            "encoding": {"format": "jsonl", "compression": "gzip"},
            "storage": {"root": f"file://{tmp_path / 'batches'}"},
            "batch_size": 200,
        }
        (tmp_path / "batches").mkdir()
    names = ("pages",) if "alone" in case else ("items", "pages")
    if source == "export":
        result = run_pages(tmp_path, site, urls, *names, **settings)
    else:
        account = Account(FakeClock(start=CLOCK_START))
        for n, url in enumerate(urls):
            account.add_item(url, title=f"Item {n}")
        with PocketEmulator(account) as emulator:
            config = api_config(emulator, tmp_path, page_size=100, **settings)
            catalog = catalog_file(tmp_path, config, *names)
            result = run_cli(
                "--catalog", str(catalog), config=config, tmp_path=tmp_path, timeout=600
            )
        assert result.returncode == 0, result.stderr[-3000:]
    output = result.output
    rows = read_batches(output, "pages") if "batch" in case else output.records["pages"]
    kept = [url for url in urls if "drop" not in url] if "filter" in case else urls
    assert sorted(row["url"] for row in rows) == sorted(kept)
    assert all(row["error"] is None and row["title"] for row in rows)
    assert not [p for p in site.paths() if "drop" in p and "filter" in case]
    if "alone" in case:
        assert "items" not in output.records
    if "activate_version" in case:
        versions = {
            m["version"]
            for m in output.messages
            if m["type"] == "ACTIVATE_VERSION" and m["stream"] == "pages"
        }
        assert len(versions) == 1
        assert {
            m.get("version")
            for m in output.messages
            if m["type"] == "RECORD" and m["stream"] == "pages"
        } == versions
