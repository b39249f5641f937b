"""Fetching links: httpx over a guarded connection pool, polite and bounded.

- at most ``concurrency`` links in flight, at most :data:`PER_HOST` requests per host;
- every connection checked by :class:`~tap_pocket.pages.safety.GuardedBackend`;
- redirects followed one by one (at most :data:`MAX_REDIRECTS`), each hop checked;
- a body read up to ``max_bytes``, the rest left unread;
- one deadline per link for everything (robots.txt, DNS, redirects, retries, body): a
  server that drips one byte a second ends in ``timeout``;
- 429 and 503 retried with backoff, honouring Retry-After within the deadline;
- no cookies, no credentials, no proxy or netrc from the environment.

:class:`Fetcher` runs its own event loop in a thread; :meth:`Fetcher.fetch_all` hands
results back to the caller's thread as they complete. Extraction runs in a process pool,
so that parsing pages never holds up the fetching.
"""

from __future__ import annotations

import asyncio
import email.utils
import http.cookiejar
import os
import queue
import ssl
import threading
import time
import typing as t
from dataclasses import dataclass, field
from datetime import datetime, timezone

import httpcore
import httpx
from typing_extensions import override

from tap_pocket.pages import policy
from tap_pocket.pages.extract import HTML_TYPES, Job, extract, looks_like_html
from tap_pocket.pages.outcomes import WITH_CONTENT, is_dead
from tap_pocket.pages.robots import ROBOTS_MAX_BYTES, NoRobotsFile, RobotsRules, RobotsStore
from tap_pocket.pages.safety import DnsError, GuardedBackend, PrivateAddressError
from tap_pocket.pages.wayback import closest_snapshot
from tap_pocket.pages.workers import ExtractionPool, ExtractorUnavailableError
from tap_pocket.rows import Page

if t.TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable, Iterator

PER_HOST = 2
MAX_REDIRECTS = 10
MAX_ATTEMPTS = 3
REDIRECTS = frozenset({301, 302, 303, 307, 308})
RETRIED = frozenset({429, 503})


@dataclass(frozen=True)
class Link:
    """One link to fetch: the item's id, its URL and when it was saved."""

    item_id: str
    url: str
    time_added: str | None = None
    #: Its passing failures have lasted (the cache's policy): one more makes it dead, and
    #: its archived copy is looked up.
    dead_if_failing: bool = False


@dataclass(frozen=True)
class FetchSettings:
    """The fetcher's limits (the tap's ``fetch_*`` settings)."""

    concurrency: int = 16
    timeout: float = 20.0
    max_bytes: int = 5_000_000
    respect_robots: bool = True
    private_addresses: bool = False
    wayback_api_url: str = ""
    user_agent: str = "tap-pocket"
    #: Worker processes for extraction; 0 extracts in the fetcher's own threads (no
    #: limits: for tests of one page).
    extract_workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    #: Seconds of one page's extraction, and MiB a worker may grow by (workers.py).
    extract_timeout: float = 5.0
    extract_memory_mb: int = 128


class _FailedError(Exception):
    """A link ends with this error code."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class _Answer:
    """What one link answered so far (kept when the deadline cuts it short)."""

    final_url: str | None = None
    status: int | None = None
    content_type: str | None = None
    charset: str | None = None
    body: bytes = b""
    error: str | None = None
    fetched_at: str | None = None


@dataclass
class Stats:
    """Counts for progress and the closing summary."""

    done: int = 0
    redirected: int = 0
    archived: int = 0
    errors: int = 0
    cached: int = 0
    in_flight: int = 0
    #: Sum and number of samples of requests in flight, taken while extraction runs.
    flight_samples: list[int] = field(default_factory=list)


class _Body(httpx.AsyncByteStream):
    def __init__(self, stream: t.Any) -> None:
        self._stream = stream

    @override
    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for part in self._stream:
            yield part

    @override
    async def aclose(self) -> None:
        await self._stream.aclose()


class GuardedTransport(httpx.AsyncBaseTransport):
    """An httpx transport over httpcore's pool with the :class:`GuardedBackend`."""

    def __init__(self, *, allow_private: bool, max_connections: int) -> None:
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=30,
            network_backend=GuardedBackend(allow_private=allow_private),
        )

    @override
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.AsyncByteStream)  # noqa: S101 - async client
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        response = await self._pool.handle_async_request(core_request)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_Body(response.stream),
            extensions=response.extensions,
        )

    @override
    async def aclose(self) -> None:
        await self._pool.aclose()


def error_code(exc: BaseException) -> str:
    """The row's error code for an exception raised while fetching."""
    if isinstance(exc, _FailedError):
        return exc.code
    if isinstance(exc, PrivateAddressError):
        return "private_address"
    if isinstance(exc, DnsError):
        return "dns"
    if isinstance(exc, (asyncio.TimeoutError, httpx.TimeoutException, httpcore.TimeoutException)):
        return "timeout"
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLError) or "SSL" in str(cause) or "CERTIFICATE" in str(cause):
            return "tls"
        cause = cause.__cause__ or cause.__context__
    return "connection"


def _now() -> str:
    # The pages' clock (tests set it to run days apart): the cache's policy compares it.
    return datetime.fromtimestamp(policy.clock(), timezone.utc).isoformat()


def _retry_after(value: str | None, attempt: int) -> float:
    """Seconds to wait before retrying: Retry-After (seconds or HTTP date), else backoff."""
    if value:
        value = value.strip()
        if value.isdigit():
            return float(value)
        try:
            moment = email.utils.parsedate_to_datetime(value)
            return max(0.0, float(moment.timestamp()) - time.time())
        except (TypeError, ValueError):
            pass
    return 0.5 * float(2**attempt)


def _media_type(header: str | None) -> tuple[str | None, str | None]:
    """``text/html; charset=UTF-8`` as ``("text/html", "UTF-8")``."""
    if not header:
        return None, None
    media, _, params = header.partition(";")
    charset = None
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip("\"'")
    return media.strip().lower() or None, charset


class Fetcher:
    """Fetches links concurrently in its own event loop thread; see the module docstring."""

    def __init__(self, settings: FetchSettings, robots_store: RobotsStore | None = None) -> None:
        self.settings = settings
        self._robots_store = robots_store
        self.stats = Stats()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="tap-pocket-pages", daemon=True
        )
        self._thread.start()
        self._client: httpx.AsyncClient | None = None
        self._wayback: httpx.AsyncClient | None = None
        self._global: asyncio.Semaphore | None = None
        self._hosts: dict[str, asyncio.Semaphore] = {}
        self._robots: RobotsRules | None = None
        self._pool: ExtractionPool | None = None
        self._call(self._open())

    def _call(self, coroutine: t.Coroutine[t.Any, t.Any, t.Any]) -> t.Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    async def _open(self) -> None:
        settings = self.settings
        # A cookie policy that accepts none: cookies a site sets are dropped.
        no_cookies = http.cookiejar.CookieJar(
            http.cookiejar.DefaultCookiePolicy(allowed_domains=[])
        )
        limits_timeout = httpx.Timeout(settings.timeout)
        headers = {
            "User-Agent": settings.user_agent,
            "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5",
        }
        self._client = httpx.AsyncClient(
            transport=GuardedTransport(
                allow_private=settings.private_addresses,
                max_connections=settings.concurrency * 2,
            ),
            headers=headers,
            cookies=no_cookies,
            timeout=limits_timeout,
            follow_redirects=False,
            trust_env=False,
        )
        if settings.wayback_api_url:
            # The availability API is the configured service, not a saved link: a plain
            # client (it may be a local double in tests).
            self._wayback = httpx.AsyncClient(
                headers=headers, timeout=limits_timeout, trust_env=False, cookies=no_cookies
            )
        self._global = asyncio.Semaphore(settings.concurrency)
        self._robots = RobotsRules(self._robots_text, self._robots_store)

    def close(self) -> None:
        """Close the clients, the extraction workers and the loop thread."""
        if self._loop.is_closed():
            return
        self._call(self._aclose())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    async def _aclose(self) -> None:
        for client in (self._client, self._wayback):
            if client is not None:
                await client.aclose()

    def _extract_pool(self) -> ExtractionPool | None:
        if self.settings.extract_workers <= 0:
            return None
        if self._pool is None:
            self._pool = ExtractionPool(
                self.settings.extract_workers,
                time_limit=self.settings.extract_timeout,
                memory_limit=self.settings.extract_memory_mb * 1024 * 1024,
            )
        return self._pool

    def start_extraction(self) -> None:
        """Start an extraction worker now, before any link.

        A missing or broken extractor dependency raises :class:`ExtractorUnavailableError`
        (one line naming it).
        """
        pool = self._extract_pool()
        if pool is not None:
            pool.start()
            return
        from tap_pocket.pages.extract import check_dependencies

        broken = check_dependencies()
        if broken:
            raise ExtractorUnavailableError(f"pages: {broken}")

    def fetch_all(self, links: Iterable[Link]) -> Iterator[Page]:
        """Fetch ``links``; yield their rows in the order they complete."""
        links = list(links)
        if not links:
            return
        results: queue.Queue[Page | BaseException] = queue.Queue()
        pool = self._extract_pool()

        async def run_all() -> None:
            async def one(link: Link) -> None:
                try:
                    results.put(await self._page(link, pool))
                except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                    results.put(exc)

            await asyncio.gather(*(one(link) for link in links))

        future = asyncio.run_coroutine_threadsafe(run_all(), self._loop)
        try:
            for _ in links:
                result = results.get()
                if isinstance(result, BaseException):
                    raise result
                yield result
        finally:
            future.cancel()

    # -- one link ---------------------------------------------------------------------------

    async def _page(self, link: Link, pool: ExtractionPool | None) -> Page:
        answer = _Answer()
        try:
            await asyncio.wait_for(self._fetch(link.url, answer), self.settings.timeout)
        except Exception as exc:  # noqa: BLE001 - every failure is a row
            answer.error = error_code(exc)
        columns: dict[str, t.Any] = {}
        if answer.body and answer.error in {None, *WITH_CONTENT}:
            self.stats.flight_samples.append(self.stats.in_flight)
            job = Job(answer.body, answer.charset, answer.final_url or link.url, link.url)
            columns = await _extract(job, pool)
            # The fetch's own error (too_large, truncated) says more than the page's.
            found = columns.pop("error", None)
            answer.error = answer.error or found
            if answer.error not in {None, *WITH_CONTENT}:
                columns = {}
        archived = None
        if self._wayback is not None and is_dead(answer.error, persisted=link.dead_if_failing):
            # Within the same limits as the sites: at most 2 lookups at once.
            async with self._slot(httpx.URL(self.settings.wayback_api_url).host):
                archived = await closest_snapshot(
                    self._wayback, self.settings.wayback_api_url, link.url, link.time_added
                )
        return Page(
            item_id=link.item_id,
            url=link.url or None,
            final_url=answer.final_url,
            http_status=answer.status,
            content_type=answer.content_type,
            archived_url=archived,
            fetched_at=answer.fetched_at or _now(),
            error=answer.error,
            **columns,
        )

    async def _fetch(self, url: str, answer: _Answer) -> None:
        current = url
        for _hop in range(MAX_REDIRECTS + 1):
            try:
                target = httpx.URL(current)
            except (httpx.InvalidURL, TypeError, ValueError) as exc:
                raise _FailedError("connection") from exc
            if target.scheme not in {"http", "https"} or not target.host:
                raise _FailedError("connection")
            answer.final_url = str(target)
            if self.settings.respect_robots:
                assert self._robots is not None  # noqa: S101 - opened
                origin = f"{target.scheme}://{target.netloc.decode('ascii')}"
                if not await self._robots.allowed(origin, str(target)):
                    raise _FailedError("robots")
            location = await self._request(target, answer)
            if location is None:
                return
            current = location
        raise _FailedError("too_many_redirects")

    async def _request(self, target: httpx.URL, answer: _Answer) -> str | None:
        """One hop: the next URL when it redirects, else None with ``answer`` filled in."""
        assert self._client is not None  # noqa: S101 - opened
        for attempt in range(MAX_ATTEMPTS):
            async with self._slot(target.host):
                request = self._client.build_request("GET", target)
                response = await self._client.send(request, stream=True)
                try:
                    answer.status = response.status_code
                    answer.fetched_at = _now()
                    media, charset = _media_type(response.headers.get("content-type"))
                    answer.content_type, answer.charset = media, charset
                    if response.status_code in REDIRECTS and "location" in response.headers:
                        try:
                            return str(target.join(response.headers["location"]))
                        except (httpx.InvalidURL, ValueError) as exc:
                            raise _FailedError("connection") from exc
                    if response.status_code in RETRIED and attempt + 1 < MAX_ATTEMPTS:
                        wait = _retry_after(response.headers.get("retry-after"), attempt)
                    elif response.status_code >= 400:  # noqa: PLR2004 - HTTP errors
                        answer.error = "http_error"
                        return None
                    else:
                        await self._read(response, media, answer)
                        return None
                finally:
                    await response.aclose()
            # Waits outside the slot; past the link's deadline it is a timeout anyway.
            await asyncio.sleep(wait)
        answer.error = "http_error"
        return None

    async def _read(self, response: httpx.Response, media: str | None, answer: _Answer) -> None:
        if media is not None and media not in HTML_TYPES:
            answer.error = "not_html"
            return
        body = bytearray()
        limit = self.settings.max_bytes
        async for part in response.aiter_raw() if _identity(response) else response.aiter_bytes():
            body += part
            if len(body) >= limit:
                del body[limit:]
                answer.error = "too_large"
                break
        answer.body = bytes(body)
        if (media is None and not looks_like_html(answer.body)) or b"\x00" in answer.body[:1024]:
            answer.error, answer.body = "not_html", b""

    def _slot(self, host: str) -> _Slot:
        semaphore = self._hosts.get(host)
        if semaphore is None:
            semaphore = self._hosts[host] = asyncio.Semaphore(PER_HOST)
        assert self._global is not None  # noqa: S101 - opened
        return _Slot(self, semaphore, self._global)

    async def _robots_text(self, robots_url: str) -> str:
        assert self._client is not None  # noqa: S101 - opened
        target = httpx.URL(robots_url)
        async with self._slot(target.host), self._client.stream("GET", target) as response:
            status = response.status_code
            if 400 <= status < 500:  # noqa: PLR2004 - RFC 9309: "unavailable", no rules
                raise NoRobotsFile
            if status != 200:  # noqa: PLR2004 - anything else: unreadable this time
                msg = f"robots.txt answered HTTP {status}"
                raise OSError(msg)
            body = bytearray()
            async for part in response.aiter_bytes():
                body += part
                if len(body) >= ROBOTS_MAX_BYTES:
                    break
        return body.decode("utf-8", "replace")


async def _extract(job: Job, pool: ExtractionPool | None) -> dict[str, t.Any]:
    """The page's columns and ``error``: in a worker of ``pool``, else in a thread."""
    if pool is not None:
        return await pool.extract(job)
    try:
        return await asyncio.to_thread(extract, job)
    except Exception:  # noqa: BLE001 - the row says so
        return {"error": "extraction_failed"}


def _identity(response: httpx.Response) -> bool:
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    return encoding in {"", "identity"}


class _Slot:
    """The host's slot, then a global one (in that order: a busy host holds no global slot)."""

    def __init__(
        self, fetcher: Fetcher, host: asyncio.Semaphore, shared: asyncio.Semaphore
    ) -> None:
        self._fetcher, self._host, self._shared = fetcher, host, shared

    async def __aenter__(self) -> None:
        await self._host.acquire()
        try:
            await self._shared.acquire()
        except BaseException:
            self._host.release()
            raise
        self._fetcher.stats.in_flight += 1

    async def __aexit__(self, *_exc: object) -> None:
        self._fetcher.stats.in_flight -= 1
        self._shared.release()
        self._host.release()
