"""The pages stream's parts one by one: one test per error code, safety, charset, batches."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import typing as t
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import httpx
import pytest

from tap_pocket.pages.batches import PAGES_KEY, LinkBatch, PageBatches, page_links
from tap_pocket.pages.content_coding import (
    STEP,
    CorruptBody,
    UnsupportedCoding,
    decoder_for,
    zstd_module,
)
from tap_pocket.pages.extract import looks_like_html
from tap_pocket.pages.fetch import (
    Deadline,
    Fetcher,
    FetchSettings,
    Link,
    _FailedError,
    _retry_after,
    error_code,
    status_error,
)
from tap_pocket.pages.refresh import page_redirect
from tap_pocket.pages.robots import ROBOTS_MAX_AGE, NoRobotsFile, RobotsRules
from tap_pocket.pages.safety import DnsError, GuardedBackend, PrivateAddressError, is_public
from tap_pocket.pages.wayback import closest_snapshot, wayback_timestamp

from .conftest import run_cli
from .test_pages_site import ARTICLES, LocalSite, corpus, encode, gzip_bomb

if t.TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

ARTICLE = next(iter(ARTICLES))


@pytest.fixture(scope="module")
def site() -> Iterator[LocalSite]:
    with LocalSite(hosts=2) as running:
        yield running


def fetch_one(url: str, **settings: t.Any) -> t.Any:
    options: dict[str, t.Any] = {
        "private_addresses": True,
        "timeout": 2.0,
        "max_bytes": 100_000,
        "extract_workers": 0,  # extraction in a thread: no worker processes for one page
        **settings,
    }
    fetcher = Fetcher(FetchSettings(**options))
    try:
        (page,) = fetcher.fetch_all([Link("1", url, "2020-09-13T12:26:40+00:00")])
    finally:
        fetcher.close()
    return page


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/slow?s=30", "timeout"),
        ("http://no-such-host.invalid/", "dns"),
        ("https://{host}/article/x", "tls"),
        ("http://127.0.0.2:1/", "connection"),
        ("/status/404", "http_error"),
        ("/huge?mb=1", "too_large"),
        ("/doc.pdf", "not_html"),
        ("private", "private_address"),
        ("/private/" + ARTICLE, "robots"),
        ("/loop", "too_many_redirects"),
    ],
)
def test_each_error_code(site: LocalSite, path: str, code: str) -> None:
    base = site.base()
    settings: dict[str, t.Any] = {}
    if path == "private":
        url, settings["private_addresses"] = f"{base}/article/{ARTICLE}", False
    elif path.startswith("/"):
        url = base + path
    else:
        url = path.format(host=base.removeprefix("http://"))
    before = len(site.requests)
    page = fetch_one(url, **settings)
    assert page.error == code
    assert page.item_id == "1"
    assert page.url == url
    if code == "private_address":
        assert len(site.requests) == before  # no request arrived


def test_a_good_page_has_no_error(site: LocalSite) -> None:
    page = fetch_one(f"{site.base()}/article/{ARTICLE}")
    assert page.error is None
    assert page.title
    assert page.word_count > 100


def test_error_code_mapping() -> None:
    assert error_code(_FailedError("robots")) == "robots"
    assert error_code(PrivateAddressError("x")) == "private_address"
    assert error_code(DnsError("x", missing=True)) == "dns"
    assert error_code(DnsError("x", missing=False)) == "dns_failure"
    assert error_code(asyncio.TimeoutError()) == "timeout"
    assert error_code(httpx.ReadTimeout("slow")) == "timeout"
    assert error_code(httpx.ConnectError("refused")) == "connection"
    wrapped = httpx.ConnectError("handshake")
    wrapped.__cause__ = ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number")
    assert error_code(wrapped) == "tls"


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:4700::1111", True),
        ("127.0.0.1", False),
        ("127.0.0.3", False),
        ("10.0.0.1", False),
        ("172.16.5.4", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),  # noqa: S104 - an address under test, not a bind
        ("224.0.0.251", False),
        ("240.0.0.1", False),
        ("::1", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("ff02::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:169.254.169.254", False),
        ("2002:7f00:1::", False),  # 6to4 of 127.0.0.1
    ],
)
def test_public_addresses(address: str, public: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is public


def test_retry_after() -> None:
    assert _retry_after("3", 0) == 3
    later = datetime.now(timezone.utc) + timedelta(seconds=30)
    assert 25 < _retry_after(format_datetime(later, usegmt=True), 0) <= 30
    assert _retry_after("soon", 0) == 0.5
    assert _retry_after(None, 2) == 2


def test_sniffing() -> None:
    assert looks_like_html(b"\xef\xbb\xbf  <!DOCTYPE html><html>")
    assert looks_like_html(b"<!-- c --><html>")
    assert not looks_like_html(b"%PDF-1.4")
    assert not looks_like_html(b"<html>\x00\x01")


def test_wayback(site: LocalSite) -> None:
    assert wayback_timestamp("2019-11-18T10:00:00+00:00") == "20191118100000"
    assert wayback_timestamp("junk") is None
    assert wayback_timestamp(None) is None

    async def ask(api: str, url: str) -> str | None:
        async with httpx.AsyncClient() as client:
            return await closest_snapshot(client, api, url, "2019-11-18T10:00:00Z")

    dead = "http://example.com/status/404"
    assert asyncio.run(ask(site.wayback_url, dead)) == (f"{site.base()}/web/20191118100000/{dead}")
    assert asyncio.run(ask(site.wayback_url, "http://example.com/alive")) is None
    assert asyncio.run(ask(site.base() + "/status/500", dead)) is None  # the API failing
    assert asyncio.run(ask(site.base() + "/doc.pdf", dead)) is None  # not JSON


def test_batches_ride_on_the_last_kept_row() -> None:
    rows = [
        {"item_id": "1", "given_url": "http://a/1", "time_added": "t1"},
        {"item_id": "2", "given_url": "http://a/2", "status": "deleted"},
        {"item_id": "3", "given_url": "http://a/3", "_sdc_deleted_at": "t"},
        {"item_id": "4", "resolved_url": "http://a/4"},
        {"item_id": "5", "given_url": "http://a/5"},
        {"item_id": "6", "given_url": "http://a/6"},
        {"item_id": "7", "given_url": "http://a/7"},
    ]
    assert page_links(rows[:5]) == [
        ["1", "http://a/1", "t1"],
        ["4", "http://a/4", None],
        ["5", "http://a/5", None],
    ]
    kept = {"2", "3", "4", "5", "6"}  # a stream map drops items 1 and 7
    batches = PageBatches(lambda r: r["item_id"] in kept, size=2)
    contexts = []
    out = []
    for row in batches.rows(rows):
        out.append(row["item_id"])
        contexts.extend((row["item_id"], c) for c in batches.contexts(row))
    assert out == [row["item_id"] for row in rows]  # every row, in order
    # Read 2 rows at a time, a batch closes once it holds 2 kept rows and another kept row
    # follows: it rides on its last kept row (item 4). The last batch, marked so, rides on
    # the sync's last kept row (item 6), though the row read after it is dropped.
    assert contexts == [
        ("4", {PAGES_KEY: LinkBatch([["4", "http://a/4", None]])}),
        (
            "6",
            {
                PAGES_KEY: LinkBatch(
                    [["5", "http://a/5", None], ["6", "http://a/6", None]], last=True
                )
            },
        ),
    ]


def test_a_bad_wayback_url_stops_at_start(tmp_path: Path) -> None:
    export = tmp_path / "part_000000.csv"
    export.write_text("title,url,time_added,tags,status\nA,http://a.example/,1600000000,,unread\n")
    config = {"export_path": str(export), "wayback_api_url": "ftp://archive.example/available"}
    result = run_cli(config=config, tmp_path=tmp_path)
    assert result.returncode == 1
    assert "wayback_api_url must be an http(s) URL" in result.stderr
    assert "Traceback" not in result.stderr


class MemoryRobotsStore:
    """A RobotsStore in a dict, for RobotsRules alone."""

    def __init__(self) -> None:
        self.kept: dict[str, str | None] = {}

    def robots(self, origin: str, max_age: float) -> tuple[bool, str | None]:
        assert max_age == ROBOTS_MAX_AGE
        return (origin in self.kept, self.kept.get(origin))

    def store_robots(self, origin: str, text: str | None) -> None:
        self.kept[origin] = text


@pytest.mark.parametrize(
    ("answer", "kept", "allowed"),
    [
        ("User-agent: *\nDisallow: /private/\n", "User-agent: *\nDisallow: /private/\n", False),
        (NoRobotsFile(), None, True),  # 4xx: no rules, kept as such
        (OSError("robots.txt answered HTTP 503"), "not kept", True),  # unreadable: asked again
    ],
    ids=["file", "4xx", "5xx"],
)
def test_robots_answers_kept_are_the_definite_ones(
    answer: str | Exception, kept: str | None, *, allowed: bool
) -> None:
    store = MemoryRobotsStore()
    asked: list[str] = []

    async def fetch_text(url: str) -> str:
        asked.append(url)
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def ask() -> bool:
        return await RobotsRules(store).allowed(
            "http://a.test", "http://a.test/private/x", fetch_text
        )

    assert asyncio.run(ask()) is allowed
    assert asked == ["http://a.test/robots.txt"]
    assert store.kept.get("http://a.test", "not kept") == kept
    # A second run (a new RobotsRules) asks the site again only when nothing was kept.
    assert asyncio.run(ask()) is allowed
    assert len(asked) == (2 if kept == "not kept" else 1)


def test_a_resolver_failure_is_not_a_missing_host(monkeypatch: pytest.MonkeyPatch) -> None:
    """NXDOMAIN is ``dns`` (definite); EAI_AGAIN or no answer in time is ``dns_failure``."""
    backend = GuardedBackend(allow_private=True)

    def failing(errno: int) -> t.Callable[..., t.Any]:
        async def getaddrinfo(*_args: t.Any, **_kwargs: t.Any) -> t.Any:
            raise socket.gaierror(errno, "resolver says no")

        return getaddrinfo

    async def resolve(errno: int) -> str:
        loop = asyncio.get_running_loop()
        monkeypatch.setattr(loop, "getaddrinfo", failing(errno))
        try:
            await backend.resolve("example.test", 80, 1.0)
        except DnsError as exc:
            return error_code(exc)
        return "resolved"

    assert asyncio.run(resolve(socket.EAI_NONAME)) == "dns"
    assert asyncio.run(resolve(socket.EAI_AGAIN)) == "dns_failure"
    assert asyncio.run(resolve(socket.EAI_FAIL)) == "dns_failure"


def test_status_codes() -> None:
    assert [status_error(s) for s in (200, 204, 301, 304)] == [None] * 4
    assert {s: status_error(s) for s in (401, 403, 999)} == dict.fromkeys(
        (401, 403, 999), "blocked"
    )
    assert status_error(408) == "timeout"
    assert status_error(429) == status_error(503) == "rate_limited"
    assert status_error(500) == status_error(502) == status_error(504) == "server_error"
    assert status_error(404) == status_error(410) == status_error(418) == "http_error"


@pytest.mark.parametrize(
    ("header", "body", "found"),
    [
        (None, b'<head><meta http-equiv="refresh" content="0;url=/next"></head>', "/next"),
        (None, b"<head><META CONTENT='2; URL=\"/q\"' HTTP-EQUIV=Refresh></head>", "/q"),
        (
            None,
            b"<meta content=0;url=http://a/b?c=1&amp;d=2 http-equiv=refresh>",
            "http://a/b?c=1&d=2",
        ),
        (None, b"<meta http-equiv=refresh content=300>", None),  # reloads itself, no URL
        (None, b"<meta http-equiv=refresh content='600;url=/home'>", None),  # not soon
        (None, b"<head></head><body><meta http-equiv=refresh content='0;url=/x'>", None),
        (
            None,
            b"<!--[if lte IE 9]><meta http-equiv=refresh content='1;url=/old'><![endif]-->",
            None,
        ),
        (None, b"<script>var s='<meta http-equiv=refresh content=0;url=/x>'</script>", None),
        ("0; url=https://a/b", b"", "https://a/b"),
        ("5", b"", None),
        # t.co: a meta refresh in noscript and a script, in a page of a few hundred bytes.
        (
            None,
            (
                b'<head><noscript><META http-equiv="refresh" content="0;URL=https://a/t"></noscript>'
                b'</head><script>location.replace("https:\\/\\/a\\/t")</script>'
            ),
            "https://a/t",
        ),
        (None, b'<script>window.location.href = "https://a/js";</script>', "https://a/js"),
        (None, b'<script>location = "/relative";</script>', None),  # absolute URLs only
        (None, b'<script>location.href = "https://a/big";</script>' + b" " * 5000, None),
    ],
)
def test_page_redirects(header: str | None, body: bytes, found: str | None) -> None:
    assert page_redirect(header, body, None) == found


def test_no_real_article_is_taken_for_a_redirect() -> None:
    """The 181 real pages of the corpus (IE conditional comments, noscript, scripts...)."""
    assert [name for name, body in corpus().items() if page_redirect(None, body, None)] == []


@pytest.mark.parametrize("coding", ["gzip", "x-gzip", "deflate", "br", "zstd", "identity"])
def test_one_content_coding_is_decoded_in_bounded_steps(coding: str) -> None:
    body = ARTICLES[ARTICLE]
    encoded = encode(body, [coding])
    decoder = decoder_for(coding)
    pieces = [
        p
        for start in range(0, len(encoded), 1000)
        for p in decoder.decode(encoded[start : start + 1000])
    ]
    assert b"".join(pieces) == body
    assert max(map(len, pieces)) <= 2 * STEP


def test_zstd_frames_follow_one_another_within_an_8_mib_window() -> None:
    """Frames one after another decode as one body, fed in any pieces.

    A frame asking for a window over 8 MiB (RFC 9659's limit), or junk after a frame, is
    a corrupt body.
    """
    zstd = zstd_module()
    body = ARTICLES[ARTICLE]
    frames = zstd.compress(body[:5000]) + zstd.compress(body[5000:])
    for size in (7, 1000, len(frames)):
        decoder = decoder_for("zstd")
        pieces = [decoder.decode(frames[at : at + size]) for at in range(0, len(frames), size)]
        assert b"".join(b"".join(piece) for piece in pieces) == body
    wide = zstd.ZstdCompressor(options={zstd.CompressionParameter.window_log: 24})
    for refused in (
        wide.compress(b"a" * (9 << 20)) + wide.flush(),
        zstd.compress(body) + b"junk after the frame",
    ):
        with pytest.raises(CorruptBody):
            list(decoder_for("zstd").decode(refused))


@pytest.mark.parametrize(
    "header", ["gzip, gzip", "gzip,br", "gzip, gzip, gzip", "compress", "x-unknown"]
)
def test_stacked_or_unknown_codings_are_refused(header: str) -> None:
    with pytest.raises(UnsupportedCoding):
        decoder_for(header)


def test_a_bomb_stops_at_the_limit() -> None:
    """1 GiB in a 1 MB gzip body: decoding stops after the bytes wanted, one step past."""
    decoder = decoder_for("gzip")
    out = 0
    for piece in decoder.decode(gzip_bomb(1024)):
        out += len(piece)
        if out >= 3_000_000:
            break
    assert out < 3_000_000 + 2 * STEP


def test_the_deadline_counts_only_the_work_it_runs() -> None:
    """On a clock the test moves: time outside run() (a slot, a paused host) is free."""
    now = [100.0]
    deadline = Deadline(5.0, clock=lambda: now[0])

    async def work(seconds: float) -> str:
        now[0] += seconds
        return "done"

    async def scenario() -> list[t.Any]:
        seen: list[t.Any] = [deadline.started]
        now[0] += 60  # waiting for a slot: not counted
        seen += [deadline.remaining(), await deadline.run(work(2)), deadline.remaining()]
        now[0] += 60
        seen += [await deadline.run(work(2.5)), deadline.remaining(), deadline.started]
        # Work that overruns is cut by wait_for in real time; on this clock it ends late,
        # and the next piece finds nothing left.
        seen += [await deadline.run(work(1)), deadline.remaining()]
        try:
            await deadline.run(work(1))
        except asyncio.TimeoutError as exc:
            seen.append(error_code(exc))
        return seen

    assert asyncio.run(scenario()) == [
        *(False, 5.0, "done", 3.0, "done", 0.5, True),
        *("done", -0.5, "timeout"),
    ]
