"""A local "real web" for the ``pages`` stream: hundreds of hosts on one asyncio server.

One HTTP/1.1 server listens on 0.0.0.0 and one port, and answers for every loopback
address 127.x.y.z: the local address of each accepted connection says which host was
asked, so each address is a separate site to the fetcher (its per-host limit, its
robots.txt) and hundreds of hosts cost one server and one thread. Connections to any
address outside 127.0.0.0/8 are closed unanswered.

- :class:`LocalSite` serves the real article pages of the article-extraction benchmark
  (tests/fixtures/pages/corpus/, MIT: provenance in its README) and paths that answer
  with redirects (3xx, ``Refresh``, meta refresh, script interstitials, a t.co-like
  shortener), errors (4xx, 5xx, 999, 429 with Retry-After, resets, cut bodies), slow or
  dripping bodies, content codings (gzip, deflate, br, zstd, stacked bombs), a huge
  page, a PDF, binary junk, wrong charsets, robots.txt rules and an Internet Archive
  availability-API double;
- :func:`library` draws a saved library over many hosts with the host mix of real
  exports (/work/shared/pocket-samples/host-mix.md: one host with about 10 % of the
  links, nine more with 1-2 % each, a t.co-like redirector, a long tail of hosts with a
  single link) and some passing failures (a first answer 503 or a reset, then the page);
- :func:`heavy_tailed` gives each answer a latency from a log-normal distribution
  (median about 300 ms, about 1 % over 5 s), fixed per URL so reruns see the same web.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import http
import json
import math
import random
import threading
import time
import typing as t
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from urllib.parse import parse_qs, quote, urlsplit

from typing_extensions import Self

from tap_pocket.pages.content_coding import zstd_module

from . import pages_data


@functools.cache
def corpus() -> dict[str, bytes]:
    """The benchmark's 181 real article pages, by the first 12 characters of their name."""
    return {page.key[:12]: page.body for page in pages_data.corpus()}


#: The four pages the tests name (titles, authors, languages asserted): two English
#: articles of ScienceAlert, a Japanese and a German blog post.
ARTICLES = {
    name: corpus()[name]
    for name in ("14cc2a0ca59c", "359fee228518", "85439e26c41c", "ba07d1e64775")
}
#: robots.txt of every host but 127.0.0.3: /private/ is for no robot.
ROBOTS = b"User-agent: *\nDisallow: /private/\n"
#: robots.txt of 127.0.0.3: a group for tap-pocket (which then ignores the `*` group).
ROBOTS_NAMING_THE_TAP = (
    b"User-agent: tap-pocket\nDisallow: /no-taps/\n\nUser-agent: *\nDisallow: /\n"
)
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
#: The start of every "bomb" body: HTML, so what a bounded read keeps is a page.
BOMB_HEAD = b"<html><head><title>Bomb</title></head><body><p>"
#: The shortener of :func:`library`: every link on it answers as t.co does.
REDIRECTOR = "127.1.255.1"


def tiny_page(n: int | str) -> bytes:
    """A small article page titled ``Tiny n<n>`` (cheap to extract).

    ``n404`` rather than ``404``: a short page titled with a bare 404 reads as a soft 404.
    """
    words = " ".join(f"word{i}" for i in range(60))
    return (
        f"<html><head><title>Tiny n{n}</title></head><body><article><h1>Tiny n{n}</h1>"
        f"<p>{words}.</p><p>{words}.</p></article></body></html>"
    ).encode()


def encode(body: bytes, codings: list[str]) -> bytes:
    """``body`` with each content coding applied in order (as a server would list them).

    ``identity`` and unknown codings leave the bytes as they are: only the label says.
    """
    for coding in codings:
        if coding in {"gzip", "x-gzip"}:
            body = gzip.compress(body, 6)
        elif coding == "deflate":
            body = zlib.compress(body)
        elif coding == "br":
            import brotli  # type: ignore[import-untyped]  # no stubs or py.typed

            body = brotli.compress(body)
        elif coding == "zstd":
            body = zstd_module().compress(body)
        # identity, and codings the tap does not know (compress...): only the label
    return body


@functools.cache
def gzip_bomb(mb: int) -> bytes:
    """A gzip body that inflates to :data:`BOMB_HEAD` and ``mb`` MiB of ``a`` (about 1/1000).

    Built from one compressed MiB repeated (each ends in a full flush, so the copies are
    alike), in well under a second.
    """
    block = b"a" * (1 << 20)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    head = deflate.compress(BOMB_HEAD) + deflate.flush(zlib.Z_FULL_FLUSH)
    copy = deflate.compress(block) + deflate.flush(zlib.Z_FULL_FLUSH)
    end = deflate.flush()
    crc = zlib.crc32(BOMB_HEAD)
    for _ in range(mb):
        crc = zlib.crc32(block, crc)
    size = (len(BOMB_HEAD) + mb * len(block)) & 0xFFFFFFFF
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    trailer = crc.to_bytes(4, "little") + size.to_bytes(4, "little")
    return header + head + copy * mb + end + trailer


@functools.cache
def _streamed_bomb(coding: str, mb: int) -> bytes:
    """A br or zstd body that decodes to :data:`BOMB_HEAD` and ``mb`` MiB of ``a``."""
    block = b"a" * (1 << 20)
    if coding == "br":
        import brotli  # type: ignore[import-untyped]  # no stubs or py.typed

        brotli_stream = brotli.Compressor(quality=1)
        parts = [brotli_stream.process(BOMB_HEAD)]
        parts += [brotli_stream.process(block) for _ in range(mb)]
        return b"".join([*parts, brotli_stream.finish()])
    zstd_stream = zstd_module().ZstdCompressor(level=1)
    parts = [zstd_stream.compress(BOMB_HEAD)]
    parts += [zstd_stream.compress(block) for _ in range(mb)]
    return b"".join([*parts, zstd_stream.flush()])


def bomb(codings: list[str], mb: int = 1024) -> bytes:
    """A body of ``mb`` MiB (1 GiB unless said) under ``codings``.

    The first coding is gzip, br or zstd; the others wrap it again, as a server listing
    them would.
    """
    first = gzip_bomb(mb) if codings[0] == "gzip" else _streamed_bomb(codings[0], mb)
    return encode(first, codings[1:])


def heavy_tailed(
    median: float = 0.3, sigma: float = 1.2, cap: float = 8.0, seed: int = 19
) -> t.Callable[[str, str], float]:
    """Seconds each answer takes: log-normal per (host, path), the same on every run.

    With the defaults the median is 0.3 s, about 1 % of the answers take over 5 s, and
    none more than ``cap``.
    """

    def latency(host: str, path: str) -> float:
        draw = random.Random(f"{seed}:{host}:{path}").lognormvariate(math.log(median), sigma)
        return min(cap, draw)

    return latency


def host_address(n: int) -> str:
    """The loopback address of host ``n`` of a library (127.1.0.1, 127.1.0.2 ...)."""
    return f"127.1.{n // 250}.{n % 250 + 1}"


#: Shares of a library's links on its ten busiest hosts: the busiest with about 10 %,
#: the next nine as in export A of host-mix.md (107, 91, 79 ... of 4,982 links).
BUSIEST = (0.10, 0.021, 0.018, 0.016, 0.013, 0.012, 0.007, 0.007, 0.007, 0.006)
#: Shares of links through the t.co-like shortener and on hosts with a single link.
SHORTENED, SINGLE = 0.04, 0.40
#: Share of links whose first answer is a passing failure (503 or a reset), then the page.
PASSING = 0.05


def library(
    site: LocalSite,
    links: int,
    *,
    pages: list[str] | None = None,
    passing: float = PASSING,
    seed: int = 19,
) -> list[str]:
    """``links`` saved URLs over many hosts of ``site``, with the host mix of real exports.

    Each link is an article of ``pages`` (the corpus unless given: ``/article/<name>``
    paths) with ``?n=<i>`` to keep it distinct. :data:`SHORTENED` of them go through
    :data:`REDIRECTOR` (``/tco/<i>?to=<article URL>``); ``passing`` of them (5 % unless
    said) first answer 503 or a reset (``/first/503/...``, ``/first/reset/...``).
    """
    rng = random.Random(seed)
    names = pages if pages is not None else list(corpus())
    hosts: list[int] = []
    for n, share in enumerate(BUSIEST):
        hosts += [n] * round(share * links)
    single = round(SINGLE * links)
    shortened = round(SHORTENED * links)
    next_host = len(BUSIEST)
    hosts += range(next_host, next_host + single)
    next_host += single
    while len(hosts) < links - shortened:  # the middle: hosts with 2 to 20 links
        size = min(links - shortened - len(hosts), rng.randint(2, 20))
        hosts += [next_host] * size
        next_host += 1
    rng.shuffle(hosts)
    urls: list[str] = []
    for i, host in enumerate(hosts):
        path = f"/article/{names[i % len(names)]}?n={i}"
        draw = rng.random()
        if draw < passing / 2:
            path = "/first/503" + path
        elif draw < passing:
            path = "/first/reset" + path
        urls.append(f"http://{host_address(host)}:{site.port}{path}")
    articles = list(urls)
    for i in range(shortened):
        target = articles[rng.randrange(len(articles))]
        urls.insert(
            rng.randrange(len(urls) + 1),
            f"{site.at(REDIRECTOR)}/tco/{i}?to={quote(target, safe='')}",
        )
    return urls


@dataclass
class Request:
    """One request the site answered: which host, what path, when, with which headers."""

    host: str
    path: str
    headers: dict[str, str]
    at: float = field(default_factory=time.monotonic)
    #: When the answer was written (None: not yet, or the connection broke).
    done: float | None = None


class _Answer(Exception):  # noqa: N818 - a way out of a route, not a failure
    """Raised by a route that has answered, or closed the connection (keep-alive off)."""


class LocalSite:
    """The server; ``base(n)`` is the n-th of the named hosts 127.0.0.<first + n>.

    ``delay`` (or ``latency(host, path)``) is how long each answer takes, robots.txt and
    the availability API excepted. ``robots`` gives some hosts another robots.txt:
    ``{address: (body, headers)}``.
    """

    def __init__(
        self,
        hosts: int = 4,
        *,
        delay: float = 0.0,
        first: int = 2,
        latency: t.Callable[[str, str], float] | None = None,
        robots: dict[str, tuple[bytes, dict[str, str]]] | None = None,
    ) -> None:
        self.hosts, self.first = hosts, first
        self.latency = latency or (lambda _host, _path: delay)
        self.robots = robots or {}
        #: Names of /down/<name> paths that fail (the connection closed without an answer).
        self.down: set[str] = set()
        #: /gate?name=<name> answers once the test sets ``gates[name]`` (60 s at most);
        #: the names of gates that answered because the 60 s had passed.
        self.gates: defaultdict[str, threading.Event] = defaultdict(threading.Event)
        self.gates_timed_out: set[str] = set()
        self.port = 0
        self.log: list[Request] = []
        self.in_flight: Counter[str] = Counter()
        self.max_in_flight: Counter[str] = Counter()
        self.total_in_flight = 0
        self.max_total_in_flight = 0
        self.hits: Counter[str] = Counter()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.AbstractServer | None = None
        self._connections: set[asyncio.Task[None]] = set()

    def __enter__(self) -> Self:
        self._thread.start()
        # Every address, for every 127.x.y.z; connections to any other are closed unanswered.
        anywhere = "0.0.0.0"  # noqa: S104
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._connection, anywhere, 0, backlog=1024), self._loop
        ).result()
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def __exit__(self, *_exc: object) -> None:
        async def stop() -> None:
            assert self._server is not None
            self._server.close()
            for task in list(self._connections):
                task.cancel()
            await asyncio.gather(*self._connections, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    # -- what the tests read ----------------------------------------------------------------

    def base(self, n: int = 0) -> str:
        return self.at(f"127.0.0.{self.first + n}")

    def at(self, address: str) -> str:
        """The base URL of the host at ``address``."""
        return f"http://{address}:{self.port}"

    @property
    def wayback_url(self) -> str:
        return self.base(0) + "/wayback/available"

    @property
    def requests(self) -> list[tuple[str, str]]:
        return [(request.host, request.path) for request in self.log]

    def paths(self) -> list[str]:
        return [request.path for request in self.log]

    @property
    def user_agents(self) -> set[str]:
        return {request.headers.get("user-agent", "") for request in self.log}

    @property
    def cookies_seen(self) -> list[str]:
        return [r.headers["cookie"] for r in self.log if r.headers.get("cookie")]

    @property
    def headers_seen(self) -> list[str]:
        """Every request's header block, as received."""
        return ["\n".join(f"{k}: {v}" for k, v in r.headers.items()) for r in self.log]

    # -- the server -------------------------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        host = str(writer.get_extra_info("sockname")[0])
        try:
            if not host.startswith("127."):
                return
            while True:
                try:
                    head = await reader.readexactly(1)
                    if not head.isalpha():  # not HTTP (a TLS handshake): a plain-text error
                        writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                        return
                    head += await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, target = lines[0].split(" ")[:2]
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    if name:
                        headers[name.strip().lower()] = value.strip()
                request = Request(host, target, headers)
                if not await self._request(request, writer) or method == "HEAD":
                    return
        except (OSError, asyncio.CancelledError):
            return
        finally:
            self._connections.discard(task)
            writer.close()

    async def _request(self, request: Request, writer: asyncio.StreamWriter) -> bool:
        """Answer one request; whether the connection stays open for another."""
        host = request.host
        self.log.append(request)
        self.hits[request.path] += 1
        self.in_flight[host] += 1
        self.total_in_flight += 1
        self.max_in_flight[host] = max(self.max_in_flight[host], self.in_flight[host])
        self.max_total_in_flight = max(self.max_total_in_flight, self.total_in_flight)
        try:
            await _Routes(self, request, writer).answer()
        except _Answer as answered:
            return not answered.args
        except (OSError, asyncio.IncompleteReadError):
            return False
        finally:
            self.in_flight[host] -= 1
            self.total_in_flight -= 1
        request.done = time.monotonic()
        return True

    def answered(self, prefix: str) -> int:
        """How many requests for paths starting with ``prefix`` have had their answer."""
        return sum(1 for r in self.log if r.done is not None and r.path.startswith(prefix))


class _Routes:
    """The site's paths: each route writes its answer (and may raise _Answer to close)."""

    def __init__(self, site: LocalSite, request: Request, writer: asyncio.StreamWriter) -> None:
        self.site, self.request, self.writer = site, request, writer
        parts = urlsplit(request.path)
        self.path, self.query = parts.path, parse_qs(parts.query)

    def arg(self, name: str, default: str = "") -> str:
        return self.query.get(name, [default])[0]

    async def send(
        self,
        status: int,
        body: bytes = b"",
        content_type: str | None = "text/html; charset=utf-8",
        headers: dict[str, str] | None = None,
        *,
        length: int | None = None,
    ) -> None:
        try:
            reason = http.HTTPStatus(status).phrase
        except ValueError:
            reason = "Request denied"
        lines = [f"HTTP/1.1 {status} {reason}"]
        if content_type:
            lines.append(f"Content-Type: {content_type}")
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        lines.append(f"Content-Length: {len(body) if length is None else length}")
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        await self.writer.drain()

    async def close(self, *, reset: bool = False) -> t.NoReturn:
        """End the connection: what was written is sent first, unless ``reset``."""
        if reset:
            self.writer.transport.abort()
        else:
            self.writer.close()
            await self.writer.wait_closed()
        raise _Answer("closed")

    async def answer(self) -> None:  # noqa: C901, PLR0912, PLR0915 - one branch per path
        site, host, path = self.site, self.request.host, self.path
        if not path.startswith(("/robots.txt", "/wayback")):
            await asyncio.sleep(site.latency(host, self.request.path))
        if path.startswith("/first/"):  # /first/<503|429|reset>/<rest>: that once, then /<rest>
            _, _, kind, rest = path.split("/", 3)
            if site.hits[self.request.path] == 1:
                if kind == "reset":
                    await self.close(reset=True)
                wait = {"Retry-After": self.arg("retry-after")} if self.arg("retry-after") else {}
                await self.send(int(kind), b"come back later", "text/plain", wait)
                return
            path = "/" + rest
        if path == "/robots.txt":
            special = site.robots.get(host)
            if special is not None:
                await self.send(200, special[0], "text/plain", special[1])
            else:
                rules = ROBOTS_NAMING_THE_TAP if host == "127.0.0.3" else ROBOTS
                await self.send(200, rules, "text/plain")
        elif path.startswith(("/article/", "/private/", "/no-taps/")):
            body = corpus().get(path.rsplit("/", 1)[-1])
            if body is None:
                await self.send(404, b"<html><body>not here</body></html>")
            else:
                await self.send(200, body, headers={"Set-Cookie": "session=abc; Path=/"})
        elif path.startswith("/tiny/"):
            await self.send(200, tiny_page(path.rsplit("/", 1)[-1]))
        elif path.startswith("/redirect/"):
            # /redirect/<n>/<rest>: n more hops, then /<rest>
            _, _, count, rest = path.split("/", 3)
            hops = int(count)
            location = f"/redirect/{hops - 1}/{rest}" if hops > 1 else f"/{rest}"
            await self.send(302, b"", None, {"Location": location})
        elif path == "/elsewhere":  # a redirect to another host of the site
            await self.send(301, b"", None, {"Location": self.arg("to")})
        elif path == "/loop":
            await self.send(302, b"", None, {"Location": "/loop"})
        elif path.startswith("/status/"):
            wait = {"Retry-After": self.arg("retry-after")} if self.arg("retry-after") else {}
            await self.send(
                int(path.split("/")[2]), b"<html><body>status</body></html>", headers=wait
            )
        elif path == "/slow":
            await asyncio.sleep(float(self.arg("s", "5")))
            await self.send(200, ARTICLES["14cc2a0ca59c"])
        elif path == "/hold":  # answers once ``tiny`` /tiny/ pages have been (120 s at most)
            waited = 0.0
            while site.answered("/tiny/") < int(self.arg("tiny")) and waited < 120:
                await asyncio.sleep(0.05)
                waited += 0.05
            await self.send(200, tiny_page("held"))
        elif path == "/gate":
            gate, waited = site.gates[self.arg("name")], 0.0
            while not gate.is_set() and waited < 60:
                await asyncio.sleep(0.05)
                waited += 0.05
            if not gate.is_set():
                site.gates_timed_out.add(self.arg("name"))
            await self.send(200, tiny_page("gate"))
        elif path == "/drip":
            self.writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100000\r\n\r\n"
            )
            for _ in range(100):
                self.writer.write(b"<")
                await self.writer.drain()
                await asyncio.sleep(1)
            await self.close()
        elif path == "/huge":
            size = int(self.arg("mb", "6")) * 1_000_000
            filler = b"<p>" + b"lorem ipsum dolor sit amet " * 40 + b"</p>\n"
            body = b"<html><head><title>Huge page</title></head><body>"
            body += filler * (size // len(filler)) + b"</body></html>"
            await self.send(200, body)
        elif path == "/doc.pdf":
            await self.send(200, PDF, "application/pdf")
        elif path == "/binary":  # binary junk that claims to be HTML
            await self.send(200, bytes(range(256)) * 64)
        elif path == "/malformed":
            await self.send(200, b"<html><head><title>Broken</title><body><p>Unclosed <div><<<>")
        elif path == "/wrong-charset":  # says UTF-8, is Latin-1
            body_text = "<html><head><title>Caf\xe9 cr\xe8me</title></head><body><p>"
            body_text += "Le caf\xe9 est tr\xe8s bon. " * 30 + "</p></body></html>"
            await self.send(200, body_text.encode("latin-1"))
        elif path == "/no-charset":  # no charset in the header; the meta names it
            body_text = "<html><head><meta charset='shift_jis'><title>日本語のページ</title>"
            body_text += "</head><body><p>" + "これは日本語の文章です。" * 20 + "</p></body></html>"
            await self.send(200, body_text.encode("shift_jis"), "text/html")
        elif path.startswith("/down/"):  # a passing failure while its name is down
            if path.removeprefix("/down/") in site.down:
                await self.close(reset=True)
            await self.send(200, ARTICLES["14cc2a0ca59c"])
        elif path.startswith("/flaky/"):  # 429 with Retry-After: 1 first, then the page
            if site.hits[self.request.path] == 1:
                await self.send(429, b"slow down", "text/plain", {"Retry-After": "1"})
            else:
                await self.send(200, ARTICLES["14cc2a0ca59c"])
        elif path.startswith("/encoded/"):  # /encoded/<codings, comma-separated>/<rest>
            _, _, codings, rest = path.split("/", 3)
            listed = [c for c in codings.split(",") if c]
            body = corpus().get(rest.rsplit("/", 1)[-1], b"")
            await self.send(
                200, encode(body, listed), headers={"Content-Encoding": ", ".join(listed)}
            )
        elif path.startswith("/bomb/"):  # /bomb/<codings>?mb=N: N MiB (1 GiB) under codings
            listed = path.split("/")[2].split(",")
            body = bomb(listed, int(self.arg("mb", "1024")))
            await self.send(200, body, headers={"Content-Encoding": ", ".join(listed)})
        elif path == "/truncated":  # Content-Length says more than comes, then the end
            body = ARTICLES["14cc2a0ca59c"]
            await self.send(200, body[: len(body) // 2], length=len(body))
            await self.close()
        elif path == "/cut-chunked":  # a chunked body that stops without its last chunk
            body = ARTICLES["14cc2a0ca59c"][:60_000]
            self.writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n"
            )
            for start in range(0, len(body), 8192):
                piece = body[start : start + 8192]
                self.writer.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            await self.writer.drain()
            await self.close()
        elif path.startswith("/refresh/"):
            await self.refresh(path.split("/")[2])
        elif path.startswith("/tco/"):  # as t.co answers: a meta refresh in noscript, a script
            to = self.arg("to")
            body = (
                f'<head><noscript><META http-equiv="refresh" content="0;URL={to}"></noscript>'
                f"<title>{to}</title></head><script>window.opener = null; "
                f'location.replace("{to.replace("/", chr(92) + "/")}")</script>'
            ).encode()
            await self.send(200, body, headers={"Cache-Control": "private,max-age=300"})
        elif path == "/wayback/available":
            await self.wayback()
        else:
            await self.send(404, b"<html><body>no such page</body></html>")

    async def refresh(self, form: str) -> None:
        """/refresh/<form>?to=<url>: a page or header sending the browser to ``to``."""
        to = self.arg("to")
        head = "<html><head>{}</head><body>{}</body></html>"
        pages = {
            # Attribute order, quoting and case vary; all say the same.
            "meta": head.format(
                f'<meta http-equiv="refresh" content="0; url={to}">', "Redirecting"
            ),
            "meta-reordered": head.format(
                f"<META CONTENT='1;URL=\"{to}\"' HTTP-EQUIV='Refresh'>", ""
            ),
            "meta-unquoted": head.format(f"<meta content=0;url={to} http-equiv=refresh>", ""),
            # A page that reloads itself every 5 minutes, naming no URL: it is the page.
            "reload": head.format(
                "<meta http-equiv='refresh' content='300'><title>Live blog</title>",
                "<p>" + "Live updates from the match. " * 40 + "</p>",
            ),
            "script": head.format(
                "<title>Redirecting</title>",
                f'<script>window.location.href = "{to}";</script>',
            ),
        }
        if form == "header":
            await self.send(
                200,
                b"<html><body>You are being redirected</body></html>",
                headers={"Refresh": f"0; url={to}"},
            )
        elif form == "chain":  # /refresh/chain?n=N&to=...: N meta refreshes, then ``to``
            hops = int(self.arg("n", "1"))
            target = to if hops <= 1 else f"/refresh/chain?n={hops - 1}&to={quote(to, safe='')}"
            await self.send(200, f'<meta http-equiv="refresh" content="0;url={target}">'.encode())
        else:
            await self.send(200, pages[form].encode())

    async def wayback(self) -> None:
        """The availability API: snapshots on its own host, as a mirror would.

        A URL holding ``hostile-archive`` or ``foreign-archive`` gets a snapshot URL that
        is not the archive's (``javascript:``, another host).
        """
        url = self.arg("url")
        timestamp = self.arg("timestamp", "20200101000000")
        snapshots: dict[str, t.Any] = {}
        here = self.site.at(self.request.host)
        snapshot = f"{here}/web/{timestamp}/{url}"
        if "hostile-archive" in url:
            snapshot = "javascript:alert(document.cookie)//" + here
        elif "foreign-archive" in url:
            snapshot = f"http://web.archive.org.evil.example/web/{timestamp}/{url}"
        if "/status/" in url or ":1/" in url or "/down/" in url:
            snapshots = {
                "closest": {
                    "available": True,
                    "url": snapshot,
                    "timestamp": timestamp,
                    "status": "200",
                }
            }
        body = json.dumps({"url": url, "archived_snapshots": snapshots}).encode()
        await self.send(200, body, "application/json")


def by_host(site: LocalSite) -> dict[str, list[str]]:
    """The paths requested from each host."""
    found: dict[str, list[str]] = defaultdict(list)
    for host, path in site.requests:
        found[host].append(path)
    return found


def test_site_serves_every_loopback_address_as_a_host() -> None:
    import urllib.request

    with LocalSite(hosts=2) as site:
        name = next(iter(ARTICLES))
        for address in ("127.0.0.3", "127.1.7.9"):
            with urllib.request.urlopen(f"{site.at(address)}/article/{name}") as answer:  # noqa: S310 - loopback
                assert answer.read() == ARTICLES[name]
        assert site.requests == [
            ("127.0.0.3", f"/article/{name}"),
            ("127.1.7.9", f"/article/{name}"),
        ]
    assert len(corpus()) == 181
    assert set(ARTICLES) <= set(corpus())


def test_the_bombs_are_what_they_claim() -> None:
    """1 GiB under gzip, then gzip again: a few KB on the wire."""
    stacked = bomb(["gzip", "gzip"])
    assert len(stacked) < 4096
    inner = gzip.decompress(stacked)
    inflate = zlib.decompressobj(zlib.MAX_WBITS | 16)
    start = inflate.decompress(inner, 4096)
    assert start.startswith(BOMB_HEAD)
    assert gzip.decompress(gzip_bomb(3)) == BOMB_HEAD + b"a" * (3 << 20)


def test_the_library_has_the_host_mix_of_real_exports() -> None:
    with LocalSite() as site:
        urls = library(site, 1000)
    hosts = Counter(urlsplit(url).hostname for url in urls)
    assert len(urls) == 1000
    ((_, count), *_) = hosts.most_common()
    assert count == 100  # one host with about 10 % of the links
    assert hosts[REDIRECTOR] == 40
    assert sum(1 for n in hosts.values() if n == 1) >= 400  # the long tail
    assert 0 < sum("/first/" in url for url in urls) < 100
    latency = heavy_tailed()
    draws = sorted(latency("h", f"/p{n}") for n in range(2000))
    assert 0.2 < draws[1000] < 0.4  # median about 300 ms
    assert draws[-1] > 5  # some over 5 s
