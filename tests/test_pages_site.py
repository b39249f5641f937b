"""A local test site for the ``pages`` stream, on several loopback addresses at once.

127.0.0.2, 127.0.0.3 ... are all loopback on Linux: one server per address makes each a
separate host, so the fetcher's per-host limit is exercised. The article pages are real
ones (tests/fixtures/pages/README.md gives their provenance); the other paths answer with
redirects, errors, slow or dripping bodies, a huge page, a PDF, binary junk, wrong
charsets, robots.txt rules and an Internet Archive availability-API double.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
import typing as t
from collections import Counter, defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from typing_extensions import Self

FIXTURES = Path(__file__).parent / "fixtures" / "pages"
ARTICLES = {
    path.name.split(".")[0][:12]: gzip.decompress(path.read_bytes())
    for path in sorted(FIXTURES.glob("*.html.gz"))
}
#: robots.txt of every host but 127.0.0.3: /private/ is for no robot.
ROBOTS = b"User-agent: *\nDisallow: /private/\n"
#: robots.txt of 127.0.0.3: a group for tap-pocket (which then ignores the `*` group).
ROBOTS_NAMING_THE_TAP = (
    b"User-agent: tap-pocket\nDisallow: /no-taps/\n\nUser-agent: *\nDisallow: /\n"
)
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


class _QuietServer(ThreadingHTTPServer):
    """Clients that hang up (timeouts, TLS to plain HTTP) are expected: no traceback."""

    def handle_error(self, request: t.Any, client_address: t.Any) -> None:
        pass


class LocalSite:
    """HTTP servers on ``hosts`` loopback addresses, all serving the same paths."""

    def __init__(self, hosts: int = 4, *, delay: float = 0.0, first: int = 2) -> None:
        self.delay = delay
        self.requests: list[tuple[str, str]] = []
        self.in_flight: Counter[str] = Counter()
        self.max_in_flight: Counter[str] = Counter()
        self.total_in_flight = 0
        self.max_total_in_flight = 0
        self.hits: Counter[str] = Counter()
        self.user_agents: set[str] = set()
        self.cookies_seen: list[str] = []
        #: Every request's header block, as received.
        self.headers_seen: list[str] = []
        #: Names of /down/<name> paths that fail (the connection closed without an answer).
        self.down: set[str] = set()
        self._lock = threading.Lock()
        self.servers = [
            _QuietServer((f"127.0.0.{first + n}", 0), self._handler()) for n in range(hosts)
        ]
        for server in self.servers:
            server.daemon_threads = True
            server.request_queue_size = 128
        self._threads = [
            threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
            for s in self.servers
        ]

    def __enter__(self) -> Self:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()

    def base(self, n: int = 0) -> str:
        host, port = self.servers[n].server_address[:2]
        return f"http://{host}:{port}"

    @property
    def wayback_url(self) -> str:
        return self.base(0) + "/wayback/available"

    def paths(self) -> list[str]:
        return [path for _, path in self.requests]

    def _handler(self) -> type[BaseHTTPRequestHandler]:  # noqa: C901 - the routes inside
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: t.Any) -> None:  # noqa: A002 - http.server's name
                pass

            def do_GET(self) -> None:
                host = f"{self.server.server_address[0]}"
                with site._lock:
                    site.requests.append((host, self.path))
                    site.hits[self.path] += 1
                    site.in_flight[host] += 1
                    site.total_in_flight += 1
                    site.max_in_flight[host] = max(site.max_in_flight[host], site.in_flight[host])
                    site.max_total_in_flight = max(site.max_total_in_flight, site.total_in_flight)
                    site.user_agents.add(self.headers.get("User-Agent", ""))
                    site.headers_seen.append(str(self.headers))
                    if self.headers.get("Cookie"):
                        site.cookies_seen.append(self.headers["Cookie"])
                try:
                    self.route()
                except (BrokenPipeError, ConnectionResetError):
                    pass
                finally:
                    with site._lock:
                        site.in_flight[host] -= 1
                        site.total_in_flight -= 1

            def send(
                self,
                status: int,
                body: bytes = b"",
                content_type: str | None = "text/html; charset=utf-8",
                headers: dict[str, str] | None = None,
            ) -> None:
                self.send_response(status)
                if content_type:
                    self.send_header("Content-Type", content_type)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def route(self) -> None:  # noqa: C901, PLR0912, PLR0915 - one branch per path
                host = f"{self.server.server_address[0]}"
                parts = urlsplit(self.path)
                path, query = parts.path, parse_qs(parts.query)
                if site.delay and not path.startswith(("/robots.txt", "/wayback")):
                    time.sleep(site.delay)
                if path == "/robots.txt":
                    rules = ROBOTS_NAMING_THE_TAP if host == "127.0.0.3" else ROBOTS
                    self.send(200, rules, "text/plain")
                elif path.startswith(("/article/", "/private/", "/no-taps/")):
                    name = path.rsplit("/", 1)[-1]
                    body = ARTICLES.get(name)
                    if body is None:
                        self.send(404, b"<html><body>not here</body></html>")
                    else:
                        self.send(200, body, headers={"Set-Cookie": "session=abc; Path=/"})
                elif path.startswith("/redirect/"):
                    # /redirect/<n>/<rest>: n more hops, then /<rest>
                    _, _, count, rest = path.split("/", 3)
                    hops = int(count)
                    location = f"/redirect/{hops - 1}/{rest}" if hops > 1 else f"/{rest}"
                    self.send(302, b"", None, {"Location": location})
                elif path == "/elsewhere":  # a redirect to another host of the site
                    self.send(301, b"", None, {"Location": query["to"][0]})
                elif path == "/loop":
                    self.send(302, b"", None, {"Location": "/loop"})
                elif path.startswith("/status/"):
                    self.send(int(path.split("/")[2]), b"<html><body>status</body></html>")
                elif path == "/slow":
                    time.sleep(float(query.get("s", ["5"])[0]))
                    self.send(200, ARTICLES[next(iter(ARTICLES))])
                elif path == "/drip":
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html")
                    self.send_header("Content-Length", "100000")
                    self.end_headers()
                    for _ in range(100):
                        self.wfile.write(b"<")
                        self.wfile.flush()
                        time.sleep(1)
                elif path == "/huge":
                    size = int(query.get("mb", ["6"])[0]) * 1_000_000
                    filler = b"<p>" + b"lorem ipsum dolor sit amet " * 40 + b"</p>\n"
                    body = b"<html><head><title>Huge page</title></head><body>"
                    body += filler * (size // len(filler)) + b"</body></html>"
                    self.send(200, body)
                elif path == "/doc.pdf":
                    self.send(200, PDF, "application/pdf")
                elif path == "/binary":  # binary junk that claims to be HTML
                    self.send(200, bytes(range(256)) * 64)
                elif path == "/malformed":
                    self.send(200, b"<html><head><title>Broken</title><body><p>Unclosed <div><<<>")
                elif path == "/wrong-charset":  # says UTF-8, is Latin-1
                    body = "<html><head><title>Caf\xe9 cr\xe8me</title></head><body><p>"
                    body += "Le caf\xe9 est tr\xe8s bon. " * 30 + "</p></body></html>"
                    self.send(200, body.encode("latin-1"))
                elif path == "/no-charset":  # no charset in the header; the meta names it
                    body = "<html><head><meta charset='shift_jis'><title>日本語のページ</title>"
                    body += (
                        "</head><body><p>" + "これは日本語の文章です。" * 20 + "</p></body></html>"
                    )
                    self.send(200, body.encode("shift_jis"), "text/html")
                elif path.startswith("/flaky/"):  # 429 with Retry-After: 1 first, then the page
                    if site.hits[self.path] == 1:
                        self.send(429, b"slow down", "text/plain", {"Retry-After": "1"})
                    else:
                        self.send(200, ARTICLES[next(iter(ARTICLES))])
                elif path.startswith("/down/"):  # a passing failure while its name is down
                    if path.removeprefix("/down/") in site.down:
                        self.close_connection = True
                    else:
                        self.send(200, ARTICLES[next(iter(ARTICLES))])
                elif path == "/wayback/available":
                    self.wayback(query)
                else:
                    self.send(404, b"<html><body>no such page</body></html>")

            def wayback(self, query: dict[str, list[str]]) -> None:
                """The availability API: snapshots on its own host, as a mirror would.

                A URL holding ``hostile-archive`` or ``foreign-archive`` gets a snapshot URL
                that is not the archive's (``javascript:``, another host).
                """
                url = query.get("url", [""])[0]
                timestamp = query.get("timestamp", ["20200101000000"])[0]
                snapshots: dict[str, t.Any] = {}
                here = "http://{}:{}".format(*self.server.server_address[:2])
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
                self.send(200, body, "application/json")

        return Handler


def by_host(site: LocalSite) -> dict[str, list[str]]:
    """The paths requested from each host."""
    found: dict[str, list[str]] = defaultdict(list)
    for host, path in site.requests:
        found[host].append(path)
    return found


def test_site_serves_the_articles() -> None:
    import urllib.request

    with LocalSite(hosts=2) as site:
        name = next(iter(ARTICLES))
        with urllib.request.urlopen(f"{site.base(1)}/article/{name}") as answer:  # noqa: S310 - loopback
            assert answer.read() == ARTICLES[name]
        assert site.requests == [("127.0.0.3", f"/article/{name}")]
    assert len(ARTICLES) == 4
