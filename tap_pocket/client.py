"""The one base stream for Pocket's v3 API: HTTP, credentials, errors, rate limits, pagination."""

from __future__ import annotations

import logging
import threading
import time
import typing as t
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from http import HTTPStatus

import backoff
import msgspec
from singer_sdk import RESTStream
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError
from singer_sdk.pagination import OffsetPaginator
from singer_sdk.singerlib import StateMessage

from tap_pocket.records import PocketEntry, decode_typed_page, list_entries

if t.TYPE_CHECKING:
    import requests
    from backoff.types import Details
    from singer_sdk.helpers.types import Context
    from singer_sdk.streams.rest import HTTPRequest, PageContext

#: Hints shown with Pocket's own X-Error text, by X-Error-Code.
ERROR_HINTS = {
    "107": "the access_token is missing, invalid or revoked: run `tap-pocket auth` for a new one",
    "138": "the consumer_key setting is missing",
    "152": "the consumer_key is not valid for this Pocket server",
    "130": "a request parameter was rejected: check the filter settings",
    "199": "Pocket reported a server issue",
    "198": "Pocket reported a server issue",
}

# A 403 is a rate-limit answer when Pocket also says no calls remain.
_LIMIT_HEADERS = (
    ("user", "X-Limit-User-Remaining", "X-Limit-User-Reset"),
    ("consumer key", "X-Limit-Key-Remaining", "X-Limit-Key-Reset"),
)


class PocketApiError(FatalAPIError):
    """An error answer from Pocket, with its X-Error text and code."""

    def __init__(self, status: int, error_code: str | None, error: str | None, path: str) -> None:
        self.status = status
        self.error_code = error_code
        self.error = error
        hint = ERROR_HINTS.get(error_code or "")
        if hint is None and status == HTTPStatus.BAD_REQUEST:
            hint = "a request parameter was rejected: check the filter settings"
        message = f"Pocket API error on POST {path}: HTTP {status}"
        if error_code:
            message += f", X-Error-Code {error_code}"
        if error:
            message += f": {error}"
        if hint:
            message += f" (hint: {hint})"
        super().__init__(message)


class PocketRateLimitError(FatalAPIError):
    """Pocket's rate limit is used up for longer than the ``max_wait`` setting allows."""


class PocketPage:
    """One parsed ``/v3/get`` answer, parsed once and shared by the paginator and streams.

    ``entries`` are typed :class:`~tap_pocket.records.PocketEntry` structs when the page
    decodes as such (nearly always), else the raw entry dicts.
    """

    __slots__ = ("_total", "entries", "server_time")

    def __init__(
        self,
        entries: list[PocketEntry] | list[dict[str, t.Any]],
        total: t.Any,
        server_time: datetime | None,
    ) -> None:
        self.entries = entries
        self._total = total
        self.server_time = server_time

    @property
    def total(self) -> int | None:
        try:
            return int(self._total)
        except (TypeError, ValueError):
            return None


class PocketOffsetPaginator(OffsetPaginator):
    """Advances the offset by the entries Pocket actually returned, not by ``count``.

    Servers cap ``count`` below what was asked (the documented maximum was 30), and
    advancing by the page size would then skip items. Stops after the first empty page.
    """

    def __init__(
        self,
        start_value: int,
        page_size: int,
        page_of: t.Callable[[requests.Response], PocketPage],
    ) -> None:
        super().__init__(start_value=start_value, page_size=page_size)
        self._page_of = page_of

    def get_next(self, response: requests.Response) -> int | None:
        return self.current_value + len(self._page_of(response).entries)

    def has_more(self, response: requests.Response) -> bool:
        return bool(self._page_of(response).entries)


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


class PocketStream(RESTStream[int]):
    """Base stream for ``POST /v3/get``.

    Credentials travel only in the JSON body, never in the URL, headers or logs.

    Every sync sends ``since`` (the bookmark, start_date, or 1 for everything) and sorts
    oldest first.
    In a ``since`` sync Pocket keeps deleted items in the list as tombstones and appends
    new ones at the end, so offsets stay stable while the account changes mid-sync, and
    an interrupted sync can resume at the offset where it stopped.
    """

    path = "/v3/get"
    http_method = "POST"
    payload_as_json = True
    records_jsonpath = "$.list"  # documentation only: parse_response reads PocketPage

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._page_cache: tuple[requests.Response, PocketPage] | None = None
        self._paginator: PocketOffsetPaginator | None = None
        #: Offset of the first page whose entries are not all out yet: where to resume.
        self.resume_offset = 0
        self._pages_fetched = 0
        self._entries_seen = 0
        self._first_server_time: datetime | None = None
        #: (which limit, monotonic time it resets) once Pocket says no calls remain
        self._rate_limited: tuple[str, float] | None = None

    @property
    def url_base(self) -> str:
        return str(self.config.get("api_url", "https://getpocket.com")).rstrip("/")

    @property
    def http_headers(self) -> dict[str, str]:
        return {
            "Content-Type": "application/json; charset=UTF-8",
            "X-Accept": "application/json",
            "User-Agent": self.user_agent,
        }

    @property
    def timeout(self) -> int:
        return int(self.config.get("request_timeout", 60))

    # Resumable sync ----------------------------------------------------------

    def _resume_marker(self, context: Context | None) -> dict[str, t.Any] | None:
        marker = self.get_context_state(context).get("resume")
        return marker if isinstance(marker, dict) else None

    def get_new_paginator(self) -> PocketOffsetPaginator:
        marker = self._resume_marker(self.context)
        start = int(marker.get("offset", 0)) if marker else 0
        self._paginator = PocketOffsetPaginator(
            start, int(self.config.get("page_size", 30)), self.page_of
        )
        self.resume_offset = start
        return self._paginator

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

    def get_replication_key_signpost(self, context: Context | None = None) -> None:
        # The bookmark is capped by Pocket's clock once the first page arrives (see
        # iter_entries), not by this machine's clock, which may disagree with the server's.
        return None

    def iter_entries(self, context: Context | None) -> t.Iterator[PocketEntry | dict[str, t.Any]]:
        """Every raw list entry of this sync, with a bookmark that never skips a change.

        The bookmark is capped at Pocket's clock when the first page was answered: an
        item changed after that may sit on a page already read, and the next ``since``
        must still cover it. If the sync fails part-way, a STATE message records where
        to resume before the error propagates, so a rerun continues rather than restarts.
        """
        state = self.get_context_state(context)
        marker = self._resume_marker(context)
        since = self.get_since(context)
        signpost_written = False
        try:
            for raw in self.request_records(context):
                if not signpost_written:
                    self.state_manager.write_replication_key_signpost(
                        self._signpost(marker), context=context
                    )
                    signpost_written = True
                yield raw
        except Exception:
            self._save_resume_marker(state, since, marker)
            raise
        state.pop("resume", None)

    def _signpost(self, marker: dict[str, t.Any] | None) -> datetime | None:
        start = self.sync_start_time()
        if marker and marker.get("started_at"):
            earlier = datetime.fromisoformat(str(marker["started_at"]))
            start = earlier if start is None else min(start, earlier)
        return start

    def _save_resume_marker(
        self, state: dict[str, t.Any], since: int, marker: dict[str, t.Any] | None
    ) -> None:
        started = self._signpost(marker)
        if self._paginator is None or started is None:
            return  # nothing was read: the previous state stands as it is
        state["resume"] = {
            "since": since,
            "offset": self.resume_offset,
            "started_at": started.isoformat(),
        }
        self.logger.warning(
            "Sync of '%s' stopped at offset %d; the state written now lets the next run "
            "resume there (since=%d).",
            self.name,
            self.resume_offset,
            since,
        )
        self._tap.write_message(StateMessage(value=self._tap.state))

    # Request -------------------------------------------------------------------

    def request_records(self, context: Context | None) -> t.Iterator[dict[str, t.Any]]:
        """Every entry of every page, in order, asking for the next page while this one's
        entries are turned into rows.

        Pocket takes a while to build a large page; sending the next request as soon as
        a page has arrived hides that wait behind the work on the page. The next offset
        is known then (it advances by the entries returned), one request is in flight at
        a time, and the sync still ends at the first empty page, so the requests are the
        same as one by one. While a rate limit is used up, the next request waits (in
        this thread) until the page's entries are out.
        """
        paginator = self.get_new_paginator()
        send = self.request_decorator(self._request)

        def start_next_request() -> _InBackground:
            request = self._prepare_request(context=context, page=paginator)
            return _InBackground(lambda: (request, send(request, context)))

        with self.get_http_request_counter() as request_counter:
            request_counter.with_context(context)
            pending: _InBackground | None = start_next_request()
            while pending is not None:
                request, response = pending.result()
                request_counter.increment()
                self.update_sync_costs(request, response, context)
                entries = list(self.parse_response(response))
                if not entries:
                    break
                paginator.advance(response)
                pending = None if self._rate_limited else start_next_request()
                yield from entries
                self.resume_offset = paginator.current_value
                if pending is None:
                    pending = start_next_request()

    def request_filters(self) -> dict[str, t.Any]:
        """The list filters from the settings, as Pocket's parameter names and values."""
        config = self.config
        params: dict[str, t.Any] = {
            "state": config.get("state", "all"),
            "detailType": config.get("detail_type", "complete"),
            "sort": "oldest",
        }
        favorite = config.get("favorite")
        if favorite is not None:
            params["favorite"] = "1" if favorite else "0"
        for setting, name in (
            ("tag", "tag"),
            ("content_type", "contentType"),
            ("search", "search"),
            ("domain", "domain"),
        ):
            if config.get(setting):
                params[name] = config[setting]
        return params

    def extra_request_params(self) -> dict[str, t.Any]:
        """Parameters a subclass adds to every page request."""
        return {}

    def get_http_request(self, *, page: PageContext) -> HTTPRequest:
        self._wait_for_rate_limit()
        request = super().get_http_request(page=page)
        request.data = {
            "consumer_key": self.config.get("consumer_key"),
            "access_token": self.config.get("access_token"),
            **self.request_filters(),
            "count": int(self.config.get("page_size", 30)),
            "offset": page.next_page_token or 0,
            "total": "1",
            "since": self.get_since(page.stream_context),
            **self.extra_request_params(),
        }
        request.params = {}
        return request

    # Rate limits and retries -----------------------------------------------------

    def _wait_for_rate_limit(self) -> None:
        """Before a request: if Pocket said no calls remain, wait for the reset or stop."""
        if self._rate_limited is None:
            return
        which, reset_at = self._rate_limited
        delay = reset_at - time.monotonic()
        max_wait = float(self.config.get("max_wait", 3600))
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

    def backoff_max_tries(self) -> int:
        return int(self.config.get("max_retries", 5)) + 1

    def backoff_wait_generator(self) -> t.Generator[float, None, None]:
        return backoff.expo(
            base=2,
            factor=float(self.config.get("backoff_factor", 1.0)),
            max_value=float(self.config.get("backoff_max", 60)),
        )

    def backoff_jitter(self, value: float) -> float:
        return backoff.full_jitter(value)

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

    # Response --------------------------------------------------------------------

    def page_of(self, response: requests.Response) -> PocketPage:
        """The parsed page for ``response``; each response body is parsed only once."""
        cached = self._page_cache
        if cached is not None and cached[0] is response:
            return cached[1]
        try:
            # msgspec parses a 5000-item page several times faster than the json module.
            typed = decode_typed_page(response.content)
            body = msgspec.json.decode(response.content) if typed is None else None
        except msgspec.DecodeError as exc:
            msg = f"Pocket answered HTTP {response.status_code} with a body that is not JSON"
            raise RetriableAPIError(msg, response) from exc
        if typed is not None:
            page = PocketPage(*typed, _server_time(response))
        elif isinstance(body, dict):
            page = PocketPage(list_entries(body), body.get("total"), _server_time(response))
        else:
            msg = f"Pocket answered HTTP {response.status_code} with JSON that is not an object"
            raise RetriableAPIError(msg, response)
        self._page_cache = (response, page)
        return page

    def validate_response(self, response: requests.Response) -> None:
        status = response.status_code
        limit = rate_limit_wait(response.headers)
        if status == HTTPStatus.FORBIDDEN and limit is not None:
            # Wait (or stop) now: the retry goes straight back to Pocket.
            self._note_rate_limit(*limit)
            self._wait_for_rate_limit()
            raise RetriableAPIError(
                f"HTTP 403 from POST {self.path}: Pocket's {limit[0]} rate limit is used up",
                response,
            )
        if status >= HTTPStatus.INTERNAL_SERVER_ERROR or status in self.extra_retry_statuses:
            raise RetriableAPIError(self.response_error_message(response), response)
        if status >= HTTPStatus.BAD_REQUEST:
            raise PocketApiError(
                status,
                response.headers.get("X-Error-Code"),
                response.headers.get("X-Error"),
                self.path,
            )
        # A 200 with a cut-off or HTML body is a transient fault: parse it now to retry.
        self.page_of(response)
        if limit is not None:
            # Pace: the next request, if there is one, waits for the reset.
            self._note_rate_limit(*limit)

    def response_error_message(self, response: requests.Response) -> str:
        # The SDK's default message includes the whole body; ours names Pocket's own error.
        message = f"HTTP {response.status_code} from POST {self.path}"
        code, error = response.headers.get("X-Error-Code"), response.headers.get("X-Error")
        if code or error:
            message += f": X-Error-Code {code}: {error}"
        return message

    def parse_response(self, response: requests.Response) -> t.Iterable[t.Any]:
        page = self.page_of(response)
        self._log_progress(response, page)
        if self._first_server_time is None:
            self._first_server_time = page.server_time or datetime.now(timezone.utc)
        yield from page.entries

    def _log_progress(self, response: requests.Response, page: PocketPage) -> None:
        self._pages_fetched += 1
        self._entries_seen += len(page.entries)
        total = page.total
        remaining = response.headers.get("X-Limit-User-Remaining")
        self.logger.info(
            "Fetched page %d of /v3/get: %d entries, %d so far%s%s",
            self._pages_fetched,
            len(page.entries),
            self._entries_seen,
            f" of {total}" if total is not None else "",
            f"; rate limit: {remaining} user calls remaining" if remaining is not None else "",
        )

    def sync_start_time(self) -> datetime | None:
        """Pocket's clock when the first page of this sync was answered, less 1 s of slack.

        The HTTP Date header has whole seconds only; the slack keeps a change made in
        the same second as the first answer inside the next ``since`` window.
        """
        if self._first_server_time is None:
            return None
        return self._first_server_time - timedelta(seconds=1)


def _server_time(response: requests.Response) -> datetime | None:
    header = response.headers.get("Date")
    if not header:
        return None
    try:
        return parsedate_to_datetime(header).astimezone(timezone.utc)
    except (TypeError, ValueError):
        return None


class _InBackground:
    """One call run on a daemon thread; ``result()`` waits for it and returns or raises.

    A daemon thread, so a request still sleeping in a backoff or rate-limit wait never
    keeps the process alive after the sync has stopped.
    """

    def __init__(self, call: t.Callable[[], t.Any]) -> None:
        self._call = call
        self._done = threading.Event()
        self._value: t.Any = None
        self._error: BaseException | None = None
        threading.Thread(target=self._run, name="tap-pocket-request", daemon=True).start()

    def _run(self) -> None:
        try:
            self._value = self._call()
        except BaseException as exc:  # handed to the thread that waits for the result
            self._error = exc
        finally:
            self._done.set()

    def result(self) -> t.Any:
        self._done.wait()
        if self._error is not None:
            raise self._error
        return self._value
