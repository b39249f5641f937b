"""The one base stream for Pocket's v3 API: HTTP, credentials, errors and pagination."""

from __future__ import annotations

import json
import typing as t
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from http import HTTPStatus

from singer_sdk import RESTStream
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError
from singer_sdk.pagination import OffsetPaginator

from tap_pocket.records import list_entries

if t.TYPE_CHECKING:
    import requests
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


class PocketPage:
    """One parsed ``/v3/get`` answer, parsed once and shared by the paginator and streams."""

    __slots__ = ("body", "entries", "server_time")

    def __init__(self, body: dict[str, t.Any], server_time: datetime | None) -> None:
        self.body = body
        self.entries = list_entries(body)
        self.server_time = server_time

    @property
    def total(self) -> int | None:
        try:
            return int(self.body["total"])
        except (KeyError, TypeError, ValueError):
            return None


class PocketOffsetPaginator(OffsetPaginator):
    """Advances the offset by the entries Pocket actually returned, not by ``count``.

    Servers cap ``count`` below what was asked (the documented maximum was 30), and
    advancing by the page size would then skip items. Stops after the first empty page.
    """

    def __init__(self, page_size: int, page_of: t.Callable[[requests.Response], PocketPage]) -> None:
        super().__init__(start_value=0, page_size=page_size)
        self._page_of = page_of

    def get_next(self, response: requests.Response) -> int | None:
        return self.current_value + len(self._page_of(response).entries)

    def has_more(self, response: requests.Response) -> bool:
        return bool(self._page_of(response).entries)


class PocketStream(RESTStream[int]):
    """Base stream for ``POST /v3/get``.

    Credentials travel only in the JSON body, never in the URL, headers or logs.
    """

    path = "/v3/get"
    http_method = "POST"
    payload_as_json = True
    records_jsonpath = "$.list"  # documentation only: parse_response reads PocketPage

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._page_cache: tuple[requests.Response, PocketPage] | None = None
        self._pages_fetched = 0
        self._entries_seen = 0
        self._first_server_time: datetime | None = None

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

    def get_new_paginator(self) -> PocketOffsetPaginator:
        return PocketOffsetPaginator(int(self.config.get("page_size", 30)), self.page_of)

    # Request ---------------------------------------------------------------

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

    def get_since(self, context: Context | None) -> int | None:
        """Unix seconds for ``since``, from the bookmark or start_date; None for a full sync."""
        start = self.get_starting_timestamp(context)
        return None if start is None else int(start.timestamp())

    def get_http_request(self, *, page: PageContext) -> HTTPRequest:
        request = super().get_http_request(page=page)
        body: dict[str, t.Any] = {
            "consumer_key": self.config.get("consumer_key"),
            "access_token": self.config.get("access_token"),
            **self.request_filters(),
            "count": int(self.config.get("page_size", 30)),
            "offset": page.next_page_token or 0,
            "total": "1",
        }
        since = self.get_since(page.stream_context)
        if since is not None:
            body["since"] = since
        body.update(self.extra_request_params())
        request.data = body
        request.params = {}
        return request

    def extra_request_params(self) -> dict[str, t.Any]:
        """Parameters a subclass adds to every page request."""
        return {}

    # Response --------------------------------------------------------------

    def page_of(self, response: requests.Response) -> PocketPage:
        """The parsed page for ``response``; each response body is parsed only once."""
        cached = self._page_cache
        if cached is not None and cached[0] is response:
            return cached[1]
        try:
            body = json.loads(response.content)
        except ValueError as exc:
            msg = f"Pocket answered HTTP {response.status_code} with a body that is not JSON"
            raise RetriableAPIError(msg, response) from exc
        if not isinstance(body, dict):
            msg = f"Pocket answered HTTP {response.status_code} with JSON that is not an object"
            raise RetriableAPIError(msg, response)
        page = PocketPage(body, _server_time(response))
        self._page_cache = (response, page)
        return page

    def validate_response(self, response: requests.Response) -> None:
        status = response.status_code
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

    def response_error_message(self, response: requests.Response) -> str:
        # The SDK's default message includes the full body; ours names Pocket's own error.
        message = f"HTTP {response.status_code} from POST {self.path}"
        code, error = response.headers.get("X-Error-Code"), response.headers.get("X-Error")
        if code or error:
            message += f": X-Error-Code {code}: {error}"
        return message

    def parse_response(self, response: requests.Response) -> t.Iterable[dict[str, t.Any]]:
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
        """Pocket's clock when the first page of this sync was answered.

        Anything changed after it may sit on a page already read; the bookmark never
        moves past it, so the next sync's ``since`` covers those changes.
        """
        if self._first_server_time is None:
            return None
        # One second of slack: the Date header has whole seconds only.
        return self._first_server_time - timedelta(seconds=1)


def _server_time(response: requests.Response) -> datetime | None:
    header = response.headers.get("Date")
    if not header:
        return None
    try:
        return parsedate_to_datetime(header).astimezone(timezone.utc)
    except (TypeError, ValueError):
        return None
