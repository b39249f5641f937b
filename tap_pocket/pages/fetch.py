"""Fetching links: httpx over a guarded connection pool, polite and bounded.

- links are submitted as they come and their rows handed back as each completes: a slow
  or hanging link holds up no other link's row (:meth:`Fetcher.submit`,
  :meth:`Fetcher.take`);
- at most ``concurrency`` requests in flight, at most :data:`PER_HOST` per host; a link
  waits for its host's slot before it takes a global one, so a busy host never holds
  more than two of them;
- after a 429 or 503 the host is paused as Retry-After says: its other links wait
  (without that counting against their deadlines), or end ``rate_limited`` at once when
  the pause outlasts their deadline;
- one deadline per link (``timeout``) for its own work only: its clock runs while one of
  its requests (robots.txt included) is under way or it backs off, never while it waits
  for a slot, so a link queued behind others is never a false ``timeout``;
- every connection checked by :class:`~tap_pocket.pages.safety.GuardedBackend`;
- a link starts (sends its first request) only while fewer than
  :data:`BACKLOG_PER_WORKER` bodies per extraction worker wait to be extracted, so bodies
  in memory stay bounded when extraction is slower than fetching;
- redirects followed one by one (at most :data:`MAX_REDIRECTS`), each hop checked; a
  ``Refresh`` header, a meta refresh or an interstitial's ``location`` script count as
  redirects (:mod:`tap_pocket.pages.refresh`);
- the raw body decoded here, one content coding at most, up to ``max_bytes`` of decoded
  output (:mod:`tap_pocket.pages.content_coding`); a body cut short is kept (``truncated``);
- 429 and 503 retried after Retry-After (or a backoff) within the deadline; other
  passing failures are tried again on later runs (:mod:`tap_pocket.pages.policy`);
- no cookies, no credentials, no proxy or netrc from the environment; httpx's per-request
  log lines at DEBUG.

:class:`Fetcher` runs its own event loop in a thread. Extraction runs in a process pool,
so that parsing pages never holds up the fetching.
"""

from __future__ import annotations

import asyncio
import email.utils
import http.cookiejar
import logging
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
from tap_pocket.pages.content_coding import (
    ACCEPT_ENCODING,
    CorruptBody,
    Decoder,
    UnsupportedCoding,
    decoder_for,
)
from tap_pocket.pages.extract import HTML_TYPES, Job, extract, looks_like_html
from tap_pocket.pages.outcomes import WITH_CONTENT, is_dead
from tap_pocket.pages.refresh import page_redirect
from tap_pocket.pages.robots import ROBOTS_MAX_BYTES, NoRobotsFile, RobotsRules, RobotsStore
from tap_pocket.pages.safety import DnsError, GuardedBackend, PrivateAddressError
from tap_pocket.pages.wayback import closest_snapshot
from tap_pocket.pages.workers import ExtractionPool, ExtractorUnavailableError
from tap_pocket.rows import Page

_T = t.TypeVar("_T")

if t.TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable, Iterator

PER_HOST = 2
MAX_REDIRECTS = 10
MAX_ATTEMPTS = 3
REDIRECTS = frozenset({301, 302, 303, 307, 308})
#: Answers that ask to come back later: retried after Retry-After, the host paused.
RATE_LIMITED = frozenset({429, 503})
#: Answers of a site refusing robots (LinkedIn answers 999).
BLOCKED = frozenset({401, 403, 999})
#: Bodies read and waiting for (or under) extraction, per extraction worker, past which no
#: new link starts: fetching faster than pages are extracted would only fill memory.
BACKLOG_PER_WORKER = 4
#: What a connection dies of when the body is cut short (the part read is kept).
_CUT_SHORT = (
    httpcore.RemoteProtocolError,
    httpcore.ReadError,
    httpx.RemoteProtocolError,
    httpx.ReadError,
)


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


class Deadline:
    """A link's time budget, spent only while its own work is under way.

    :meth:`run` times one piece of work (a request and its body, robots.txt, a backoff);
    waiting for a slot or for a paused host happens outside it and costs nothing.
    """

    def __init__(self, seconds: float, clock: t.Callable[[], float] = time.monotonic) -> None:
        self._left = seconds
        self._clock = clock
        self._since: float | None = None
        #: Whether any work has run yet (the link has sent its first request).
        self.started = False

    def remaining(self) -> float:
        """Seconds left, the piece under way counted."""
        if self._since is None:
            return self._left
        return self._left - (self._clock() - self._since)

    async def run(self, work: t.Awaitable[_T]) -> _T:
        """``work``'s result; TimeoutError when the budget runs out first."""
        left = self.remaining()
        if left <= 0:
            if isinstance(work, t.Coroutine):
                work.close()
            raise asyncio.TimeoutError
        self._since = self._clock()
        self.started = True
        try:
            return await asyncio.wait_for(work, left)
        finally:
            self._left -= self._clock() - self._since
            self._since = None


class _Retry(t.NamedTuple):
    """An attempt that may succeed later: wait ``wait`` seconds, else end with ``code``."""

    wait: float
    code: str


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
        return "dns" if exc.missing else "dns_failure"
    if isinstance(exc, (asyncio.TimeoutError, httpx.TimeoutException, httpcore.TimeoutException)):
        return "timeout"
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLError) or "SSL" in str(cause) or "CERTIFICATE" in str(cause):
            return "tls"
        cause = cause.__cause__ or cause.__context__
    return "connection"


def status_error(status: int) -> str | None:
    """The row's error code for a final HTTP status (None for a page)."""
    if status in BLOCKED:
        return "blocked"
    if status == 408:  # noqa: PLR2004 - Request Timeout
        return "timeout"
    if status in RATE_LIMITED:
        return "rate_limited"
    if 500 <= status < 600:  # noqa: PLR2004 - server errors
        return "server_error"
    if status >= 400:  # noqa: PLR2004 - the other 4xx, and what no standard defines
        return "http_error"
    return None


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


async def read_decoded(
    response: httpx.Response, decoder: Decoder, limit: int, into: bytearray
) -> bool:
    """The body's decoded bytes into ``into``, at most ``limit``; True when it had more.

    Decoding goes in bounded steps with a pause for the event loop between them, so the
    deadline can stop a body that inflates without end.
    """
    async for raw in response.aiter_raw():
        for piece in decoder.decode(raw):
            into += piece
            if len(into) >= limit:
                del into[limit:]
                return True
            await asyncio.sleep(0)
    return False


class _RequestLinesAtDebug(logging.Filter):
    """httpx's "HTTP Request: GET ..." lines (INFO) at DEBUG: per-page logging is DEBUG."""

    @override
    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.INFO:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


_AT_DEBUG = _RequestLinesAtDebug()


class Fetcher:
    """Fetches links concurrently in its own event loop thread; see the module docstring.

    :meth:`submit` hands links over and returns at once; :meth:`take` hands back the rows
    in the order they complete. :attr:`pending` counts the links submitted whose row has
    not been taken: the caller bounds it (memory), the fetcher does not.
    """

    def __init__(self, settings: FetchSettings, robots_store: RobotsStore | None = None) -> None:
        self.settings = settings
        self._robots_store = robots_store
        self.stats = Stats()
        self.pending = 0
        logging.getLogger("httpx").addFilter(_AT_DEBUG)
        self._results: queue.Queue[Page | BaseException] = queue.Queue()
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="tap-pocket-pages", daemon=True
        )
        self._thread.start()
        self._client: httpx.AsyncClient | None = None
        self._wayback: httpx.AsyncClient | None = None
        self._global: asyncio.Semaphore | None = None
        self._hosts: dict[str, asyncio.Semaphore] = {}
        #: host -> the monotonic time until which it asked to be left alone (Retry-After).
        self._paused: dict[str, float] = {}
        self._robots: RobotsRules | None = None
        self._pool: ExtractionPool | None = None
        #: Bodies held for extraction, their limit, and a flag set while under it.
        self._backlog = 0
        self._backlog_limit = BACKLOG_PER_WORKER * max(1, settings.extract_workers)
        self._room: asyncio.Event | None = None
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
            "Accept-Encoding": ACCEPT_ENCODING,
        }
        self._client = httpx.AsyncClient(
            # As many connections as requests in flight (the slots see to that): httpcore
            # scans its whole pool, idle ones too, for every request it assigns.
            transport=GuardedTransport(
                allow_private=settings.private_addresses,
                max_connections=settings.concurrency,
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
        self._room = asyncio.Event()
        self._room.set()
        self._robots = RobotsRules(self._robots_store)

    def close(self) -> None:
        """Stop the links under way; close the clients, the extraction workers, the loop."""
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
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
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

    def submit(self, links: Iterable[Link]) -> None:
        """Start fetching ``links``; returns at once (they wait for slots in the loop)."""
        pool = self._extract_pool()
        for link in links:
            self.pending += 1
            self._loop.call_soon_threadsafe(self._start, link, pool)

    def take(self, *, wait: bool) -> Page | None:
        """A completed link's row: the next to complete when ``wait``, else one ready now.

        None when nothing is pending, or (not waiting) when nothing has completed yet.
        """
        if not self.pending:
            return None
        try:
            result = self._results.get(block=wait)
        except queue.Empty:
            return None
        self.pending -= 1
        if isinstance(result, BaseException):
            raise result
        return result

    def fetch_all(self, links: Iterable[Link]) -> Iterator[Page]:
        """Fetch ``links``; yield their rows in the order they complete."""
        links = list(links)
        self.submit(links)
        for _ in links:
            page = self.take(wait=True)
            assert page is not None  # noqa: S101 - one row per link submitted
            yield page

    def _start(self, link: Link, pool: ExtractionPool | None) -> None:
        task = self._loop.create_task(self._one(link, pool))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _one(self, link: Link, pool: ExtractionPool | None) -> None:
        try:
            self._results.put(await self._page(link, pool))
        except Exception as exc:  # noqa: BLE001 - handed to the caller's thread
            self._results.put(exc)

    # -- one link ---------------------------------------------------------------------------

    async def _page(self, link: Link, pool: ExtractionPool | None) -> Page:
        answer = _Answer()
        try:
            await self._fetch(link.url, answer, Deadline(self.settings.timeout))
        except Exception as exc:  # noqa: BLE001 - every failure is a row
            answer.error = error_code(exc)
        columns: dict[str, t.Any] = {}
        if answer.body and (answer.error is None or answer.error in WITH_CONTENT):
            self._hold_bodies(1)
            try:
                columns = await self._columns(link, answer, pool)
            finally:
                self._hold_bodies(-1)
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

    async def _columns(
        self, link: Link, answer: _Answer, pool: ExtractionPool | None
    ) -> dict[str, t.Any]:
        """The page's own columns, extracted from its body (in a worker process)."""
        self.stats.flight_samples.append(self.stats.in_flight)
        job = Job(answer.body, answer.charset, answer.final_url or link.url, link.url)
        columns = await _extract(job, pool)
        # The fetch's own error (too_large, truncated) says more than the page's.
        found = columns.pop("error", None)
        answer.error = answer.error or found
        return columns if answer.error is None or answer.error in WITH_CONTENT else {}

    def _hold_bodies(self, change: int) -> None:
        """Count bodies held for extraction; new links start only while under the limit."""
        assert self._room is not None  # noqa: S101 - opened
        self._backlog += change
        if self._backlog < self._backlog_limit:
            self._room.set()
        else:
            self._room.clear()

    async def wait_for_room(self) -> None:
        """Wait until fewer bodies than the limit wait for extraction."""
        assert self._room is not None  # noqa: S101 - opened
        while not self.room():
            await self._room.wait()

    def room(self) -> bool:
        """Whether a new link may start (the extraction backlog is under its limit)."""
        return self._backlog < self._backlog_limit

    async def _fetch(self, url: str, answer: _Answer, deadline: Deadline) -> None:
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

                async def robots_text(robots_url: str) -> str:
                    return await self._robots_text(robots_url, deadline)

                if not await self._robots.allowed(origin, str(target), robots_text):
                    raise _FailedError("robots")
            location = await self._request(target, answer, deadline)
            if location is None:
                return
            current = location
        raise _FailedError("too_many_redirects")

    async def _request(self, target: httpx.URL, answer: _Answer, deadline: Deadline) -> str | None:
        """One hop: the next URL when it redirects, else None with ``answer`` filled in."""
        for attempt in range(MAX_ATTEMPTS):
            async with self._slot(target.host, deadline):
                step = await deadline.run(self._exchange(target, answer, attempt))
            if not isinstance(step, _Retry):
                return step
            if attempt + 1 == MAX_ATTEMPTS or step.wait > deadline.remaining():
                # Past the deadline it would be a timeout anyway: say what was asked.
                raise _FailedError(step.code)
            await deadline.run(asyncio.sleep(step.wait))
        raise AssertionError  # pragma: no cover - the last attempt returns or raises

    async def _exchange(
        self, target: httpx.URL, answer: _Answer, attempt: int
    ) -> str | _Retry | None:
        """One request: a redirect's URL, a retry, or None with ``answer`` filled in."""
        assert self._client is not None  # noqa: S101 - opened
        answer.body, answer.error = b"", None
        request = self._client.build_request("GET", target)
        # A failed connection is not tried again in this run: the cache's policy tries it
        # on later ones.
        response = await self._client.send(request, stream=True)
        try:
            status = answer.status = response.status_code
            answer.fetched_at = _now()
            media, charset = _media_type(response.headers.get("content-type"))
            answer.content_type, answer.charset = media, charset
            if status in REDIRECTS and "location" in response.headers:
                try:
                    return str(target.join(response.headers["location"]))
                except (httpx.InvalidURL, ValueError) as exc:
                    raise _FailedError("connection") from exc
            if status in RATE_LIMITED:
                wait = _retry_after(response.headers.get("retry-after"), attempt)
                self._pause(target.host, wait)
                return _Retry(wait, "rate_limited")
            answer.error = status_error(status)
            if answer.error is None:
                await self._read(response, media, answer)
                return self._page_redirect(target, response, answer)
            return None
        finally:
            await response.aclose()

    async def _read(self, response: httpx.Response, media: str | None, answer: _Answer) -> None:
        if media is not None and media not in HTML_TYPES:
            answer.error = "not_html"
            return
        try:
            decoder = decoder_for(response.headers.get("content-encoding"))
        except UnsupportedCoding:  # stacked codings (a bomb) or one no browser knows
            answer.error = "not_html"
            return
        body = bytearray()
        try:
            if await read_decoded(response, decoder, self.settings.max_bytes, body):
                answer.error = "too_large"
        except CorruptBody:
            answer.error = "truncated" if body else "not_html"
        except _CUT_SHORT:
            if not body:
                raise  # nothing came: a failed connection
            answer.error = "truncated"  # what came is the page's start: kept
        answer.body = bytes(body)
        if (media is None and not looks_like_html(answer.body)) or b"\x00" in answer.body[:1024]:
            answer.error, answer.body = "not_html", b""

    @staticmethod
    def _page_redirect(target: httpx.URL, response: httpx.Response, answer: _Answer) -> str | None:
        """Where a Refresh header, meta refresh or interstitial script sends on, if anywhere."""
        found = page_redirect(response.headers.get("refresh"), answer.body, answer.charset)
        if found is None:
            return None
        try:
            location = target.join(found)
        except (httpx.InvalidURL, ValueError):
            return None
        if location.scheme not in {"http", "https"} or location == target:
            return None  # not somewhere a browser would go on to: the page stays
        return str(location)

    def _pause(self, host: str, seconds: float) -> None:
        until = time.monotonic() + seconds
        self._paused[host] = max(until, self._paused.get(host, 0.0))

    def host_pause(self, host: str) -> float:
        """Seconds until ``host`` may be asked again (0 or less: now)."""
        return self._paused.get(host, 0.0) - time.monotonic()

    async def wait_for_host(self, host: str, deadline: Deadline | None) -> None:
        """Wait out ``host``'s pause; ``rate_limited`` when it outlasts the link's deadline."""
        while (pause := self.host_pause(host)) > 0:
            if deadline is not None and pause > deadline.remaining():
                raise _FailedError("rate_limited")
            await asyncio.sleep(pause)

    def _slot(self, host: str, deadline: Deadline | None = None) -> _Slot:
        semaphore = self._hosts.get(host)
        if semaphore is None:
            semaphore = self._hosts[host] = asyncio.Semaphore(PER_HOST)
        assert self._global is not None  # noqa: S101 - opened
        return _Slot(self, host, semaphore, self._global, deadline)

    async def _robots_text(self, robots_url: str, deadline: Deadline) -> str:
        target = httpx.URL(robots_url)
        async with self._slot(target.host, deadline):
            return await deadline.run(self._read_robots(target))

    async def _read_robots(self, target: httpx.URL) -> str:
        assert self._client is not None  # noqa: S101 - opened
        async with self._client.stream("GET", target) as response:
            status = response.status_code
            if 400 <= status < 500:  # noqa: PLR2004 - RFC 9309: "unavailable", no rules
                raise NoRobotsFile
            if status != 200:  # noqa: PLR2004 - anything else: unreadable this time
                msg = f"robots.txt answered HTTP {status}"
                raise OSError(msg)
            body = bytearray()
            decoder = decoder_for(response.headers.get("content-encoding"))
            await read_decoded(response, decoder, ROBOTS_MAX_BYTES, body)
        return body.decode("utf-8", "replace")


async def _extract(job: Job, pool: ExtractionPool | None) -> dict[str, t.Any]:
    """The page's columns and ``error``: in a worker of ``pool``, else in a thread."""
    if pool is not None:
        return await pool.extract(job)
    try:
        return await asyncio.to_thread(extract, job)
    except Exception:  # noqa: BLE001 - the row says so
        return {"error": "extraction_failed"}


class _Slot:
    """The host's slot, then a global one (in that order: a busy host holds no global slot).

    A paused host's links wait here for the pause to end, and a link's first request for
    room in the extraction backlog, both outside their deadline.
    """

    def __init__(
        self,
        fetcher: Fetcher,
        name: str,
        host: asyncio.Semaphore,
        shared: asyncio.Semaphore,
        deadline: Deadline | None,
    ) -> None:
        self._fetcher, self._name, self._host, self._shared = fetcher, name, host, shared
        self._deadline = deadline

    async def __aenter__(self) -> None:
        fetcher = self._fetcher
        # A link's first request waits while too many bodies wait for extraction.
        gate = self._deadline is not None and not self._deadline.started
        while True:
            if gate:
                await fetcher.wait_for_room()
            await fetcher.wait_for_host(self._name, self._deadline)
            await self._host.acquire()
            if gate and not fetcher.room():
                self._host.release()  # not held while waiting: the host's others go on
                continue
            try:
                await self._shared.acquire()
            except BaseException:
                self._host.release()
                raise
            if fetcher.host_pause(self._name) <= 0:
                break
            # Paused while this link waited for its slots: let them go, wait again.
            self._shared.release()
            self._host.release()
        fetcher.stats.in_flight += 1

    async def __aexit__(self, *_exc: object) -> None:
        self._fetcher.stats.in_flight -= 1
        self._shared.release()
        self._host.release()
