"""The one base stream for Pocket's v3 API: HTTP, credentials, errors, rate limits, pages."""

from __future__ import annotations

import logging
import queue
import re
import threading
import time
import typing as t
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from urllib.parse import urljoin, urlsplit

import backoff
import requests
from requests.utils import resolve_proxies
from singer_sdk import RESTStream
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError
from singer_sdk.pagination import OffsetPaginator
from singer_sdk.streams.rest import PageContext
from typing_extensions import override

from tap_pocket.api.deadline import Deadline, DeadlineAdapter
from tap_pocket.api.page import NotAPageError, Page, decode_page
from tap_pocket.progress import Throttle
from tap_pocket.settings import origin, setting

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from backoff.types import Details
    from singer_sdk.helpers.types import Context, RequestFunc
    from singer_sdk.streams.rest import HTTPRequest

#: Hints shown with Pocket's own X-Error text, by X-Error-Code.
ERROR_HINTS = {
    "107": "the access_token is missing, invalid or revoked: run `tap-pocket auth` for a new one",
    "138": "the consumer_key setting is missing",
    "152": "the consumer_key is not valid for this Pocket server",
    "130": "a request parameter was rejected: check the filter settings, and page_size "
    "(a server that holds to Pocket's documented maximum may refuse more than 30)",
    "199": "Pocket reported a server issue",
    "198": "Pocket reported a server issue",
}

# A 403 is a rate-limit answer when Pocket also says no calls remain.
_LIMIT_HEADERS = (
    ("user", "X-Limit-User-Remaining", "X-Limit-User-Reset"),
    ("consumer key", "X-Limit-Key-Remaining", "X-Limit-Key-Reset"),
)

#: The largest answer read for a page: this much, and :data:`MAX_BYTES_PER_ITEM` per item
#: asked for (:func:`page_cap`). Real entries are 1-5 KB. The tap holds at most three
#: answers at once (see :meth:`PocketStream.pages`), each read a part at a time
#: (:mod:`~tap_pocket.api.page`): peak memory stays under 300 MB whatever they hold.
MAX_PAGE_BYTES = 4 << 20
MAX_BYTES_PER_ITEM = 10 << 10


def page_cap(page_size: int) -> int:
    """The most bytes read of one answer to a request for ``page_size`` items."""
    return MAX_PAGE_BYTES + MAX_BYTES_PER_ITEM * page_size


#: Settings that filter the list, as Pocket's parameter names.
_FILTERS = (
    ("tag", "tag"),
    ("content_type", "contentType"),
    ("search", "search"),
    ("domain", "domain"),
)


class PocketApiError(FatalAPIError):
    """An error answer from Pocket, with its X-Error text and code."""

    def __init__(self, status: int, error_code: str | None, error: str | None, path: str) -> None:
        self.status = status
        self.error_code = error_code
        self.error = error
        hint = ERROR_HINTS.get(error_code or "")
        from_pocket = bool(error_code or error)
        if hint is None and status == HTTPStatus.BAD_REQUEST and from_pocket:
            hint = ERROR_HINTS["130"]
        message = f"Pocket API error on POST {path}: HTTP {status}"
        if error_code:
            message += f", X-Error-Code {error_code}"
        if error:
            message += f": {error}"
        if not from_pocket:
            # Pocket's API names its errors in X-Error/X-Error-Code; an answer without
            # them came from something in between (a proxy, a CDN, a captive portal).
            message += (
                " without Pocket's X-Error headers: the answer did not come from Pocket's "
                "API (a proxy or gateway in between?); check api_url and the network"
            )
        if hint:
            message += f" (hint: {hint})"
        super().__init__(message)


class PocketRateLimitError(FatalAPIError):
    """Pocket's rate limit is used up for longer than the ``max_wait`` setting allows."""


class PocketRedirectError(FatalAPIError):
    """The API answered with a redirect, which the tap never follows.

    Its requests carry the consumer key and access token in the body: following a
    redirect could re-send them to whatever origin the ``Location`` names.
    """


class PageTooLargeError(FatalAPIError):
    """An answer larger than any page of the asked size can be (see :data:`MAX_PAGE_BYTES`)."""


class NoProgressError(FatalAPIError):
    """The server keeps answering pages that do not advance through the list."""


def redirect_problem(status: int, request_url: str, location: str | None, path: str) -> str:
    """The message for a redirect answer to a credentialed request (never followed)."""
    here = origin(request_url)
    if not location:
        return f"HTTP {status} from {here} for POST {path}: a redirect without a Location"
    moved_to = urljoin(request_url, location)
    target = origin(moved_to)
    if target != here:
        return (
            f"HTTP {status} from {here} redirects POST {path} to another origin, {target}; "
            "not followed: the request carries the consumer key and access token, which are "
            f"only ever sent to api_url's origin ({here}). If the API moved, set api_url to "
            "its new address"
        )
    return (
        f"HTTP {status} from {here} redirects POST {path} to {urlsplit(moved_to).path!r} "
        "on the same origin; redirects are not followed: set api_url to the address the "
        "API answers on"
    )


class PocketPaginator(OffsetPaginator):
    """Offsets advance by the entries Pocket actually returned, not by ``count``.

    Servers cap ``count`` below what was asked (the documented maximum was 30), and
    advancing by the page size would then skip items. Done after the first empty page.

    A page makes no progress when it holds only the ids of the page before it (a server
    that ignores ``offset``), or when it starts at or past the ``total`` the server
    reported (Pocket ends the list with an empty page there). After
    :data:`MAX_PAGES_WITHOUT_PROGRESS` such pages in a row the sync stops with
    :class:`NoProgressError` instead of looping.
    """

    #: Pages in a row without progress before the sync stops.
    MAX_PAGES_WITHOUT_PROGRESS = 3

    def __init__(self, start_value: int, page_size: int) -> None:
        super().__init__(start_value=start_value, page_size=page_size)
        self._page: Page | None = None
        self._previous_ids: frozenset[str] = frozenset()
        #: The pages without progress since the last page that made some.
        self.stalled = 0
        #: Whether the last page held only ids of the page before it.
        self.repeated = False

    def advance_past(self, page: Page) -> None:
        """Move on from ``page`` (the SDK's ``advance``, fed the page decoded once).

        Raises :class:`NoProgressError` after too many pages without progress.
        """
        ids = page.ids
        past_total = page.total is not None and page.offset >= page.total
        self.repeated = bool(ids) and ids <= self._previous_ids
        if self.repeated or (page.count and past_total):
            self.stalled += 1
            if self.stalled >= self.MAX_PAGES_WITHOUT_PROGRESS:
                msg = (
                    f"The API server is not advancing through the list: {self.stalled} pages "
                    f"in a row (the last at offset {page.offset}, {page.count} "
                    f"entries, total {page.total}) repeated the previous page's items or "
                    "lay past the total it reported. Stopping instead of reading the same "
                    "items forever; the server (or a proxy) probably ignores `offset`"
                )
                raise NoProgressError(msg)
        else:
            self.stalled = 0
        self._previous_ids = ids
        self._page = page
        self.advance(t.cast("requests.Response", None))

    @override
    def get_next(self, response: requests.Response) -> int | None:
        assert self._page is not None  # noqa: S101 - only advance_past calls advance
        return self._page.next_offset

    @override
    def has_more(self, response: requests.Response) -> bool:
        return bool(self._page and self._page.count)


def connection_problem(exc: requests.ConnectionError, url: str, path: str) -> str:
    """One line for a request that got no HTTP answer at all: where, and the system's reason.

    Only the reason is taken from the exception: its text can hold a proxy's URL, and so
    the proxy's credentials.
    """
    reasons = re.findall(r"\[(?:Errno -?\d+|SSL: \w+)\] ([^'\")\]]+)", repr(exc))
    reason = reasons[-1].strip() if reasons else type(exc).__name__
    if isinstance(exc, requests.exceptions.ProxyError):
        return (
            f"Could not reach POST {path} through the proxy set in the environment "
            f"(HTTP_PROXY/HTTPS_PROXY): {reason}. Check the proxy, or name the API's host in "
            "NO_PROXY"
        )
    if isinstance(exc, requests.exceptions.SSLError):
        return f"TLS failed for POST {path} on {origin(url)}: {reason}. Check api_url"
    return (
        f"Could not connect to {origin(url)} for POST {path}: {reason}. Check api_url and "
        "the network"
    )


def rate_limit_wait(headers: t.Mapping[str, str]) -> tuple[str, float] | None:
    """(which limit, seconds until it resets) when Pocket says no calls remain, else None."""
    for name, remaining_header, reset_header in _LIMIT_HEADERS:
        remaining = headers.get(remaining_header)
        if remaining is not None and remaining.strip() == "0":
            try:
                reset = max(float(headers.get(reset_header) or 0), 0.0)
            except ValueError:
                reset = 0.0
            return name, reset
    return None


class _ResumableProgress(logging.Filter):
    """Drops the SDK's notice that an unsorted stream's progress is not resumable.

    The SDK's own bookkeeping is what it describes: Pocket lists items oldest-added first,
    not by ``time_updated``, so the bookmark is held in progress markers and moves only
    when a sync ends. It is not true of these streams: an interrupted sync resumes at the
    page offset and ``since`` its resume marker saved (:meth:`PocketStream.pages`).
    """

    NOTICE = "Stream is assumed to be unsorted"

    @override
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self.NOTICE)

    @classmethod
    def install(cls) -> None:
        """Add the filter to the SDK's logger, once."""
        sdk_logger = logging.getLogger("singer_sdk")
        if not any(isinstance(f, cls) for f in sdk_logger.filters):
            sdk_logger.addFilter(cls())


class _GivingUpAtDebug(logging.Filter):
    """Lowers backoff's "Giving up ..." line to DEBUG on a stream's logger.

    The SDK's retry decorator logs it at ERROR, and the line repeats the cause that the
    run's own error line then names: a failed run ends with that one line, and the
    give-up detail is still there at DEBUG.
    """

    @override
    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.ERROR and str(record.msg).startswith("Giving up "):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True

    @classmethod
    def install(cls, logger: logging.Logger) -> None:
        """Add the filter to ``logger``, once."""
        if not any(isinstance(f, cls) for f in logger.filters):
            logger.addFilter(cls())


class PocketStream(RESTStream[int]):
    """Base stream for ``POST /v3/get``: yields :class:`~tap_pocket.api.page.Page` values.

    Credentials travel only in the JSON body, never in the URL, headers or logs.

    Every sync sends ``since`` (the bookmark, start_date, or 1 for everything) and sorts
    oldest first. In a ``since`` sync Pocket keeps deleted items in the list as
    tombstones and appends new ones at the end, so offsets stay stable while the account
    changes mid-sync, and an interrupted sync can resume at the offset where it stopped.
    """

    path = "/v3/get"
    http_method = "POST"
    payload_as_json = True
    records_jsonpath = "$.list"  # documentation only: pages are decoded by decode_page

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        _ResumableProgress.install()
        _GivingUpAtDebug.install(self.logger)
        adapter = DeadlineAdapter()
        for prefix in ("https://", "http://"):
            self.requests_session.mount(prefix, adapter)
        self._pages_fetched = 0
        self._entries_seen = 0
        #: Pocket's clock when the first page of this sync was answered.
        self._first_server_time: datetime | None = None
        #: (which limit, monotonic time it resets) once Pocket says no calls remain
        self._rate_limited: tuple[str, float] | None = None
        self._progress = Throttle()
        #: The URL of the pages and its proxies, resolved once (see _proxies_for).
        self._proxies: tuple[str, dict[str, str]] | None = None
        #: Where :meth:`pages` stopped with an error: (state, since, offset, marker).
        self._stopped_at: tuple[dict[str, t.Any], int, int, dict[str, t.Any] | None] | None = None

    @property
    @override
    def url_base(self) -> str:
        return str(setting(self.config, "api_url")).rstrip("/")

    @property
    @override
    def http_headers(self) -> dict[str, str]:
        return {
            "Content-Type": "application/json; charset=UTF-8",
            "X-Accept": "application/json",
            "User-Agent": self.user_agent,
        }

    @property
    @override
    def timeout(self) -> int:
        return int(setting(self.config, "request_timeout"))

    def wants_highlights(self) -> bool:
        """Whether the pages should carry annotations (``annotations=1``)."""
        return False

    def unfinished_offset(self) -> int | None:
        """The offset of the oldest page yielded whose rows are not all out yet, if any.

        A subclass that holds rows or child data back across pages names it here. When a
        sync fails while it does, :meth:`pages` leaves :meth:`save_resume_marker` to the
        subclass, to be called once those rows are out.
        """
        return None

    def save_resume_marker(self) -> None:
        """After :meth:`pages` failed: the STATE that lets the next run resume, once."""
        stopped, self._stopped_at = self._stopped_at, None
        if stopped is not None:
            self._save_resume_marker(*stopped)

    # Pages ---------------------------------------------------------------------------

    def pages(self, context: Context | None) -> Iterator[Page]:
        """Every page of this sync, in order, with a bookmark that never skips a change.

        The next page is requested while this one is processed (see :class:`_Prefetcher`).
        If the sync fails part-way, a STATE message records where to resume before the
        error propagates, so a rerun continues rather than restarts.
        """
        state = self.get_context_state(context)
        marker = self._resume_marker(context)
        since = self.get_since(context)
        paginator = self.get_new_paginator()
        resume_at = paginator.current_value
        signpost_written = False
        prefetcher = _Prefetcher()
        self._progress = Throttle()
        try:
            with self.get_http_request_counter() as request_counter:
                request_counter.with_context(context)

                def request_next() -> _Request:
                    offset = paginator.current_value
                    request = self.build_request(context, offset)
                    return prefetcher.submit(lambda: self.fetch_page(request, context, offset))

                ahead: _Request | None = request_next()
                #: Pages without progress, held back until a page shows the list goes on.
                held: list[Page] = []
                while ahead is not None:
                    page = ahead.result()
                    request_counter.increment()
                    if self._first_server_time is None:
                        self._first_server_time = page.server_time or datetime.now(timezone.utc)
                    paginator.advance_past(page)
                    if paginator.stalled:
                        # Kept for when the list goes on (then they were real pages), but
                        # a repeat of the page before holds nothing new.
                        if not paginator.repeated:
                            held.append(page)
                        ahead = request_next()
                        continue
                    if paginator.finished:
                        yield from held
                        break
                    if not signpost_written:
                        self.state_manager.write_replication_key_signpost(
                            self._signpost(marker), context=context
                        )
                        signpost_written = True
                    # Held pages go out before the next request: at most three pages are
                    # in memory at once (two held and this one, or this one and the next).
                    yield from held
                    held.clear()
                    # While a rate limit is used up, wait (in this thread) for this page to
                    # be out before asking for the next one.
                    ahead = None if self._rate_limited else request_next()
                    yield page
                    resume_at = paginator.current_value
                    ahead = ahead or request_next()
        except Exception:
            self._stopped_at = (state, since, resume_at, marker)
            if self.unfinished_offset() is None:
                self.save_resume_marker()
            raise
        finally:
            prefetcher.close()
        state.pop("resume", None)
        self.logger.info(
            "Read %d pages of /v3/get in %.1f s: %d entries",
            self._pages_fetched,
            self._progress.elapsed(),
            self._entries_seen,
        )

    def build_request(self, context: Context | None, offset: int) -> requests.PreparedRequest:
        """The prepared ``POST /v3/get`` for the page at ``offset``."""
        request = self.get_http_request(
            page=PageContext(stream_context=context, next_page_token=offset)
        )
        return self.build_prepared_request(
            method=request.method,
            url=request.url,
            headers=request.headers,
            json=request.data,
        )

    def fetch_page(
        self, request: requests.PreparedRequest, context: Context | None, offset: int
    ) -> Page:
        """The page at ``offset``, sent, checked and cut under the SDK's retry decorator.

        ``request_timeout`` bounds each attempt whole (:class:`~.deadline.Deadline`). A
        cut-off or non-JSON body is retried like an HTTP 503. The entries are decoded
        later, a part at a time, as the page is read (:meth:`Page.parts`).
        """

        def attempt(request: requests.PreparedRequest, context: Context | None) -> Page:
            with Deadline(self.timeout) as deadline:
                response, body = self._exchange(request, context, deadline)
            try:
                page = decode_page(body, offset=offset, server_time=_server_time(response))
            except NotAPageError as exc:
                msg = f"Pocket answered HTTP {response.status_code} with a body that is not a page"
                raise RetriableAPIError(msg, response) from exc
            self._log_progress(page, response.headers.get("X-Limit-User-Remaining"))
            return page

        retried = self.request_decorator(t.cast("RequestFunc", attempt))
        return t.cast("Page", retried(request, context))

    def _exchange(
        self, request: requests.PreparedRequest, context: Context | None, deadline: Deadline
    ) -> tuple[requests.Response, bytearray]:
        """Send ``request`` and read its answer, checked, before ``deadline``: answer and body.

        Failures that are passing (a timeout, a broken-off body) raise
        :class:`RetriableAPIError` with one clear message.
        """
        response: requests.Response | None = None
        try:
            # Never follow a redirect: see PocketRedirectError.
            response = self.requests_session.send(
                request,
                timeout=self.timeout,
                allow_redirects=False,
                proxies=self._proxies_for(request),
                stream=True,  # read up to the cap (_read_capped), no further
            )
            if deadline.expired:  # headers cut off at the deadline may read as complete
                response.close()
                raise self._timed_out("its headers had not all arrived")
            with response:
                self.validate_response(response)
                self.update_sync_costs(request, response, context)
                body = self._read_capped(response)
        except requests.RequestException as exc:
            if isinstance(exc, requests.ConnectTimeout):
                raise self._timed_out("no connection was made") from exc
            if deadline.expired or isinstance(exc, requests.Timeout):
                arriving = "its headers had not all" if response is None else "its body had not all"
                raise self._timed_out(f"{arriving} arrived") from exc
            if isinstance(exc, requests.ConnectionError) and response is None:
                raise RetriableAPIError(
                    connection_problem(exc, str(request.url), self.path)
                ) from exc
            if isinstance(
                exc,
                (
                    requests.exceptions.ChunkedEncodingError,
                    requests.exceptions.ContentDecodingError,
                ),
            ):
                msg = (
                    f"The answer to POST {self.path} from {origin(str(request.url))} broke off "
                    f"or could not be decompressed ({type(exc).__name__})"
                )
                raise RetriableAPIError(msg) from exc
            raise
        if deadline.expired:  # a body without a length may end where it was cut
            raise self._timed_out("its body had not all arrived")
        return response, body

    def _timed_out(self, what: str) -> RetriableAPIError:
        """The error of a request not answered whole within ``request_timeout``."""
        msg = (
            f"No complete answer from POST {self.path} within request_timeout "
            f"({self.timeout} s): {what}. Raise the request_timeout setting if the server "
            "is slow"
        )
        return RetriableAPIError(msg)

    def _read_capped(self, response: requests.Response) -> bytearray:
        """The body, decompressed, or :class:`PageTooLargeError` past what a page can be."""
        cap = page_cap(int(setting(self.config, "page_size")))
        where = f"The answer to POST {self.path} from {origin(str(response.url))}"
        why = (
            f"larger than {cap >> 20} MiB ({MAX_PAGE_BYTES >> 20} MiB and "
            f"{MAX_BYTES_PER_ITEM >> 10} KiB per item asked for)"
        )
        advice = "lower page_size if your items really are that large"
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > cap:
            msg = f"{where} declares {int(declared) >> 20} MiB, {why}, so it was not read: {advice}"
            raise PageTooLargeError(msg)
        # One buffer, grown in place: no list of chunks joined into a second copy.
        body = bytearray()
        for chunk in response.iter_content(chunk_size=1 << 20):
            body += chunk
            if len(body) > cap:
                msg = f"{where} is {why}, so the rest was not read: {advice}"
                raise PageTooLargeError(msg)
        return body

    def _proxies_for(self, request: requests.PreparedRequest) -> dict[str, str]:
        """The environment's proxies (``HTTPS_PROXY``, ``NO_PROXY``) for a URL, resolved once.

        requests resolves them on every send by scanning the whole environment three
        times, which under Meltano (hundreds of variables) cost more than a small page.
        """
        url = str(request.url)
        if self._proxies is None or self._proxies[0] != url:
            session = self.requests_session
            proxies = dict(session.proxies)
            self._proxies = (url, resolve_proxies(request, proxies, session.trust_env))
        return self._proxies[1]

    @override
    def get_new_paginator(self) -> PocketPaginator:
        marker = self._resume_marker(self.context)
        start = int(marker.get("offset", 0)) if marker else 0
        return PocketPaginator(start, int(setting(self.config, "page_size")))

    # Resumable sync ----------------------------------------------------------------

    def _resume_marker(self, context: Context | None) -> dict[str, t.Any] | None:
        marker = self.get_context_state(context).get("resume")
        return marker if isinstance(marker, dict) else None

    def get_since(self, context: Context | None) -> int:
        """Unix seconds for ``since``: a resumed sync's, else the bookmark or start_date.

        A first sync sends 1, not 0: legacy servers read ``since=0`` as "no since", which
        would drop deleted items from the list and shift the offsets under a running sync.
        """
        marker = self._resume_marker(context)
        if marker and "since" in marker:
            return int(marker["since"])
        start = self.get_starting_timestamp(context)
        return 1 if start is None else max(1, int(start.timestamp()))

    @override
    def get_replication_key_signpost(self, context: Context | None = None) -> None:
        # The bookmark is capped by Pocket's clock once the first page arrives (see
        # pages), not by this machine's clock, which may disagree with the server's.
        return None

    def _signpost(self, marker: dict[str, t.Any] | None) -> datetime | None:
        start = self.sync_start_time()
        if marker and marker.get("started_at"):
            earlier = datetime.fromisoformat(str(marker["started_at"]))
            start = earlier if start is None else min(start, earlier)
        return start

    def _save_resume_marker(
        self,
        state: dict[str, t.Any],
        since: int,
        offset: int,
        marker: dict[str, t.Any] | None,
    ) -> None:
        started = self._signpost(marker)
        if started is None:
            return  # nothing was read: the previous state stands as it is
        unfinished = self.unfinished_offset()
        if unfinished is not None:
            offset = min(offset, unfinished)
        state["resume"] = {"since": since, "offset": offset, "started_at": started.isoformat()}
        self.logger.warning(
            "Sync of '%s' stopped at offset %d; the state written now lets the next run "
            "resume there (since=%d).",
            self.name,
            offset,
            since,
        )
        self.state_manager.is_flushed = False
        self._write_state_message()

    def sync_start_time(self) -> datetime | None:
        """Pocket's clock when the first page of this sync was answered, less 1 s of slack.

        The HTTP Date header has whole seconds only; the slack keeps a change made in
        the same second as the first answer inside the next ``since`` window.
        """
        if self._first_server_time is None:
            return None
        return self._first_server_time - timedelta(seconds=1)

    # Request -----------------------------------------------------------------------

    def request_filters(self) -> dict[str, t.Any]:
        """The list filters from the settings, as Pocket's parameter names and values."""
        config = self.config
        params: dict[str, t.Any] = {
            "state": setting(config, "state"),
            "detailType": setting(config, "detail_type"),
            "sort": "oldest",
        }
        favorite = config.get("favorite")
        if favorite is not None:
            params["favorite"] = "1" if favorite else "0"
        for name, parameter in _FILTERS:
            if config.get(name):
                params[parameter] = config[name]
        return params

    def extra_request_params(self) -> dict[str, t.Any]:
        """Parameters a subclass adds to every page request."""
        return {}

    @override
    def get_http_request(self, *, page: PageContext) -> HTTPRequest:
        self._wait_for_rate_limit()
        request = super().get_http_request(page=page)
        request.data = {
            "consumer_key": self.config.get("consumer_key"),
            "access_token": self.config.get("access_token"),
            **self.request_filters(),
            "count": int(setting(self.config, "page_size")),
            "offset": page.next_page_token or 0,
            "total": "1",
            "since": self.get_since(page.stream_context),
            **self.extra_request_params(),
        }
        request.params = {}
        return request

    # Rate limits and retries -----------------------------------------------------------

    def _wait_for_rate_limit(self) -> None:
        """Before a request: if Pocket said no calls remain, wait for the reset or stop."""
        if self._rate_limited is None:
            return
        which, reset_at = self._rate_limited
        delay = reset_at - time.monotonic()
        max_wait = float(setting(self.config, "max_wait"))
        if delay > max_wait:
            resume_at = datetime.now(timezone.utc) + timedelta(seconds=delay)
            msg = (
                f"Pocket's {which} rate limit is used up and resets in {delay:.0f} s, longer "
                f"than max_wait ({max_wait:.0f} s). Stopping; run again after "
                f"{resume_at:%Y-%m-%d %H:%M} UTC: the saved state continues where this "
                "run stopped."
            )
            raise PocketRateLimitError(msg)
        if delay > 0:
            self.logger.info(
                "Pocket's %s rate limit is used up: waiting %.0f s for it to reset", which, delay
            )
            time.sleep(delay)
        self._rate_limited = None

    def _note_rate_limit(self, which: str, reset: float) -> None:
        self._rate_limited = (which, time.monotonic() + reset)

    @override
    def backoff_max_tries(self) -> int:
        return int(setting(self.config, "max_retries")) + 1

    @override
    def backoff_wait_generator(self) -> t.Generator[float, None, None]:
        return backoff.expo(
            base=2,
            factor=float(setting(self.config, "backoff_factor")),
            max_value=float(setting(self.config, "backoff_max")),
        )

    @override
    def backoff_jitter(self, value: float) -> float:
        return backoff.full_jitter(value)

    @override
    def backoff_handler(self, details: Details) -> None:
        exc = details.get("exception")
        reason = str(exc) if isinstance(exc, RetriableAPIError) else type(exc).__name__
        self.log(
            "Retrying POST %s in %.2f s (attempt %d of %d): %s",
            self.path,
            details.get("wait") or 0.0,
            details.get("tries", 0) + 1,
            self.backoff_max_tries(),
            reason,
            level=logging.WARNING,
        )

    # Response ------------------------------------------------------------------------

    @override
    def validate_response(self, response: requests.Response) -> None:
        """Pocket's own signals first (rate limits, X-Error), then the SDK's checks."""
        status = response.status_code
        if HTTPStatus.MULTIPLE_CHOICES <= status < HTTPStatus.BAD_REQUEST:
            raise PocketRedirectError(
                redirect_problem(
                    status, str(response.request.url), response.headers.get("Location"), self.path
                )
            )
        limit = rate_limit_wait(response.headers)
        if status == HTTPStatus.FORBIDDEN and limit is not None:
            # Wait (or stop) now: the retry goes straight back to Pocket.
            self._note_rate_limit(*limit)
            self._wait_for_rate_limit()
            msg = f"HTTP 403 from POST {self.path}: Pocket's {limit[0]} rate limit is used up"
            raise RetriableAPIError(msg, response)
        if HTTPStatus.BAD_REQUEST <= status < HTTPStatus.INTERNAL_SERVER_ERROR and (
            status not in self.extra_retry_statuses
        ):
            raise PocketApiError(
                status,
                response.headers.get("X-Error-Code"),
                response.headers.get("X-Error"),
                self.path,
            )
        super().validate_response(response)
        if limit is not None:
            # Pace: the next request, if there is one, waits for the reset.
            self._note_rate_limit(*limit)

    @override
    def response_error_message(self, response: requests.Response) -> str:
        # The SDK's default message includes the whole body; ours names Pocket's own error.
        message = f"HTTP {response.status_code} from POST {self.path}"
        code, error = response.headers.get("X-Error-Code"), response.headers.get("X-Error")
        if code or error:
            message += f": X-Error-Code {code}: {error}"
        return message

    def _log_progress(self, page: Page, calls_remaining: str | None) -> None:
        # Every page at DEBUG; at INFO the first, then one line per PROGRESS_EVERY seconds
        # (a line per page is a line Meltano relays per 30 items at the default page_size).
        self._pages_fetched += 1
        self._entries_seen += page.count
        first = self._pages_fetched == 1
        level = logging.INFO if self._progress.due() or first else logging.DEBUG
        self.logger.log(
            level,
            "Fetched page %d of /v3/get: %d entries, %d so far%s%s",
            self._pages_fetched,
            page.count,
            self._entries_seen,
            f" of {page.total}" if page.total is not None else "",
            f"; rate limit: {calls_remaining} user calls remaining" if calls_remaining else "",
        )


def _server_time(response: requests.Response) -> datetime | None:
    header = response.headers.get("Date")
    if not header:
        return None
    try:
        return parsedate_to_datetime(header).astimezone(timezone.utc)
    except (TypeError, ValueError):
        return None


class _Prefetcher:
    """Page requests run one at a time on one daemon thread; the caller waits for each.

    Pocket takes a while to build a large page; asking for the next page as soon as
    one has arrived hides that wait behind the work on the page. One request is in
    flight at a time and the sync still ends at the first empty page, so the requests
    are the same as one by one. One thread serves a whole sync (a thread per page cost
    more than a small page's rows). A daemon thread, so a request still sleeping in a
    backoff or rate-limit wait never keeps the process alive after the sync stopped.
    """

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[_Request | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def submit(self, call: Callable[[], Page]) -> _Request:
        """Start ``call`` after the requests submitted before it."""
        request = _Request(call)
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="tap-pocket-request", daemon=True
            )
            self._thread.start()
        self._jobs.put(request)
        return request

    def close(self) -> None:
        """Let the thread end once the request in flight (if any) is done."""
        if self._thread is not None:
            self._jobs.put(None)
            self._thread = None

    def _run(self) -> None:
        while (request := self._jobs.get()) is not None:
            request.run()


class _Request:
    """One page request; ``result()`` waits for it and raises what it raised."""

    def __init__(self, call: Callable[[], Page]) -> None:
        self._call = call
        self._done = threading.Event()
        self._page: Page | None = None
        self._error: BaseException | None = None

    def run(self) -> None:
        try:
            self._page = self._call()
        except BaseException as exc:  # noqa: BLE001 - handed to the thread that waits
            self._error = exc
        finally:
            self._done.set()

    def result(self) -> Page:
        self._done.wait()
        if self._error is not None:
            raise self._error
        assert self._page is not None  # noqa: S101 - set when no error was
        return self._page
