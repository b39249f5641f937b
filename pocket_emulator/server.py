"""The emulator's HTTP server: Pocket's v3 API on a loopback port, in a daemon thread.

Routes: ``/v3/get`` (POST or GET), ``/v3/oauth/request``, ``/v3/oauth/authorize`` and the
user-facing ``/auth/authorize``. Every answer carries a ``Date`` header from the account
clock. API answers carry Pocket's ``X-Limit-Key-*`` budget headers, and ``X-Limit-User-*``
once the access token is known.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import socket
import struct
import sys
import threading
import time
import typing as t
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

from typing_extensions import Self, override

from pocket_emulator.faults import Faults
from pocket_emulator.oauth import OAuthFlow
from pocket_emulator.ratelimit import DEFAULT_KEY_LIMIT, DEFAULT_USER_LIMIT, HOUR, RateWindow
from pocket_emulator.replies import HTML, JSON, Reply, error_reply, status_line_body
from pocket_emulator.v3_get import (
    GetRequest,
    ParameterError,
    bad_request_reply,
    flood_body,
    get_body,
    parse_get_request,
)

if t.TYPE_CHECKING:
    from email.message import Message
    from types import TracebackType

    from pocket_emulator.account import Account

MISSING_CONSUMER_KEY = (400, "138", "Missing consumer key.")
INVALID_CONSUMER_KEY = (403, "152", "Invalid consumer key.")
INVALID_ACCESS_TOKEN = (
    401,
    "107",
    "A valid access token is required to access the requested API endpoint.",
)
RATE_LIMITED_CODE = "5200"
USER_RATE_LIMITED = (403, RATE_LIMITED_CODE, "User rate limit exceeded")
KEY_RATE_LIMITED = (403, RATE_LIMITED_CODE, "Consumer key rate limit exceeded")

#: What ``Faults.non_json_every`` serves: a maintenance page, as proxies and CDNs do.
MAINTENANCE_PAGE = (
    b"<!DOCTYPE html><html><head><title>Pocket</title></head><body>"
    b"<h1>Pocket is down for scheduled maintenance</h1><p>Please try again later.</p>"
    b"</body></html>"
)

#: What ``Faults.proxy_error`` serves: a proxy's own error page, with no X-Error headers.
PROXY_ERROR_PAGE = (
    b"<html><head><title>400 Bad Request</title></head><body>"
    b"<center><h1>400 Bad Request</h1></center><hr><center>nginx</center></body></html>"
)


class RecordedRequest(t.NamedTuple):
    """One request as the emulator saw it.

    ``params`` merges query string and body, with credentials left in, so that tests can
    check what a client sent.
    """

    method: str
    path: str
    params: dict[str, t.Any]


class PocketEmulator:
    """A Pocket v3 API server for one account, on ``http://127.0.0.1:<port>``.

    Starts at construction; use as a context manager or call :meth:`close`. ``faults``
    can be replaced while it runs (``emulator.faults = Faults().fail_first(1)``), which
    also restarts the fault request count. ``user_limit``/``key_limit`` are Pocket's
    hourly budgets, enforced (403, X-Error-Code 5200) like Pocket did.
    """

    def __init__(  # noqa: PLR0913 - the server's settings, all but the first five keyword-only
        self,
        account: Account,
        consumer_key: str = "emulator-consumer-key",
        access_token: str = "emulator-access-token",  # noqa: S107 - a fake server's fake token
        faults: Faults | None = None,
        username: str = "emulator-user",
        *,
        oauth_user_rejects: bool = False,
        port: int = 0,
        user_limit: int = DEFAULT_USER_LIMIT,
        key_limit: int = DEFAULT_KEY_LIMIT,
    ) -> None:
        self.account = account
        self.consumer_key = consumer_key
        self.access_token = access_token
        self.username = username
        self.requests: list[RecordedRequest] = []
        #: The headers of each request, in the order of :attr:`requests`; look-ups such as
        #: ``headers["x-accept"]`` ignore case (None when absent).
        self.request_headers: list[Message] = []
        self._user_limit = user_limit
        self._access_tokens = {access_token: username}
        self._key_window = RateWindow(key_limit, HOUR)
        self._state_lock = threading.Lock()
        self.faults = faults or Faults()
        self.oauth = OAuthFlow(consumer_key, username, self._grant, user_rejects=oauth_user_rejects)
        self._server = _Server(("127.0.0.1", port), _Handler, self)
        self.port: int = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.01},  # how long close() may wait for the loop
            name=f"pocket-emulator-{self.port}",
            daemon=True,
        )
        self._thread.start()
        self._closed = False

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop serving and drop open (keep-alive) connections. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._server.shutdown()
        self._server.drop_connections()
        self._server.server_close()
        self._thread.join(timeout=5)

    # ------------------------------------------------------------------ faults

    @property
    def faults(self) -> Faults:
        """The failures injected into ``/v3/get``; assigning restarts their request count."""
        return self._faults

    @faults.setter
    def faults(self, faults: Faults) -> None:
        with self._state_lock:
            self._faults = faults
            self._request_number = 0
            self._echoed = 0
            self._user_windows: dict[str, RateWindow] = {}
            # Cleared while a Faults.mutate_after change is due; later requests wait for it.
            self._mutation_settled = threading.Event()
            self._mutation_settled.set()

    # ------------------------------------------------------------------ dispatch

    def handle(self, method: str, target: str, headers: Message, body: bytes) -> Reply:
        """Answer one HTTP request (called by the handler threads)."""
        path, _, query_string = target.partition("?")
        content_type = headers.get("Content-Type") or ""
        params, locations = _request_params(query_string, content_type, body)
        self.requests.append(RecordedRequest(method, path, params))
        self.request_headers.append(headers)
        wants_json = "application/json" in (headers.get("X-Accept") or "").lower()
        routes: dict[str, tuple[tuple[str, ...], t.Callable[[], Reply]]] = {
            "/v3/get": (("GET", "POST"), lambda: self._get(params, locations)),
            "/v3/oauth/request": (
                ("POST",),
                lambda: self.oauth.request_token(params, as_json=wants_json),
            ),
            "/v3/oauth/authorize": (
                ("POST",),
                lambda: self.oauth.access_token(params, as_json=wants_json),
            ),
            "/auth/authorize": (("GET",), lambda: self.oauth.user_authorizes(params)),
        }
        faults = self.faults
        if faults.redirect_location is not None:
            return Reply(
                faults.redirect_status,
                status_line_body(faults.redirect_status),
                headers={"Location": faults.redirect_location + target},
            )
        if path.startswith("/v3/") and self._echoes(faults):
            return _echo_reply(faults, params)
        route = routes.get(path.rstrip("/") or "/")
        if route is None:
            return Reply(404, status_line_body(404))
        methods, answer = route
        if method not in methods:
            return Reply(405, status_line_body(405), headers={"Allow": ", ".join(methods)})
        return answer()

    def _echoes(self, faults: Faults) -> bool:
        """Whether this API request gets the Faults.echo_credentials error (counted apart)."""
        with self._state_lock:
            self._echoed += 1
            return faults.echoes(self._echoed)

    def _grant(self, access_token: str) -> None:
        """Accept a token issued by the OAuth flow on /v3/get, for the same user."""
        with self._state_lock:
            self._access_tokens[access_token] = self.username

    # ------------------------------------------------------------------ /v3/get

    def _get(self, params: dict[str, t.Any], locations: dict[str, str]) -> Reply:
        with self._state_lock:
            self._request_number += 1
            number, faults, settled = self._request_number, self._faults, self._mutation_settled
            mutates = faults.mutation is not None and number == faults.mutate_after_request
            if mutates:
                settled.clear()
        if not mutates:
            # A change due after an earlier answer happens before this request is served,
            # even when the client sent it on another connection.
            settled.wait(timeout=60)
        if faults.delay_seconds:
            time.sleep(faults.delay_seconds)
        reply = self._get_reply(params, locations, faults, number)
        reply.drip, reply.drip_interval = faults.drip_part, faults.drip_interval
        if mutates:
            reply.after = lambda: self._mutate(faults, settled)
        return reply

    def _get_reply(  # noqa: PLR0911 - one answer per fault
        self, params: dict[str, t.Any], locations: dict[str, str], faults: Faults, number: int
    ) -> Reply:
        if faults.resets(number):
            return Reply.connection_reset()
        if faults.fails(number):
            reply = error_reply(faults.fail_status, faults.fail_error_code, faults.fail_error)
            return reply.with_headers(self._key_window.headers("X-Limit-Key"))
        if faults.sends_html(number):
            return Reply(200, MAINTENANCE_PAGE, HTML, self._key_window.headers("X-Limit-Key"))
        if faults.proxy_status is not None:
            return Reply(faults.proxy_status, PROXY_ERROR_PAGE, HTML)
        user_window = self._authenticate(params)
        if isinstance(user_window, Reply):
            return user_window
        limits = self._key_window.headers("X-Limit-Key") | user_window.headers("X-Limit-User")
        if faults.offset_ignored:
            params = {**params, "offset": 0}
        try:
            request = parse_get_request(params, locations)
        except ParameterError as error:
            return bad_request_reply(error).with_headers(limits)
        body = self._body(request, faults, number)
        return Reply(200, body, JSON, limits)

    def _body(self, request: GetRequest, faults: Faults, number: int) -> bytes:
        """The page's JSON, or what the faults make of it (flood, patches, truncation)."""
        if faults.flood_entries:
            body = flood_body(request.offset, faults.flood_entries)
        else:
            body = get_body(self.account, request, now=self.account.clock())
        for old, new in faults.patches:
            body = body.replace(old, new)
        if faults.truncates(number):
            body = body[: len(body) // 2]
        return body

    def _authenticate(self, params: dict[str, t.Any]) -> Reply | RateWindow:
        """Check the consumer key and spend its budget, then find the user and spend theirs.

        Returns the refusal, or the user's rate window.
        """
        key_window = self._key_window
        consumer_key = params.get("consumer_key")
        refusal, username = None, None
        if not consumer_key:
            refusal = error_reply(*MISSING_CONSUMER_KEY)
        elif consumer_key != self.consumer_key:
            refusal = error_reply(*INVALID_CONSUMER_KEY)
        elif not key_window.take():
            refusal = error_reply(*KEY_RATE_LIMITED)
        else:
            with self._state_lock:
                username = self._access_tokens.get(str(params.get("access_token") or ""))
        if username is None:  # refused above, or an unknown access token
            refusal = refusal or error_reply(*INVALID_ACCESS_TOKEN)
            return refusal.with_headers(key_window.headers("X-Limit-Key"))
        user_window = self._user_window(username)
        if not user_window.take():
            limits = key_window.headers("X-Limit-Key") | user_window.headers("X-Limit-User")
            return error_reply(*USER_RATE_LIMITED).with_headers(limits)
        return user_window

    def _user_window(self, username: str) -> RateWindow:
        with self._state_lock:
            window = self._user_windows.get(username)
            if window is None:
                faults = self._faults
                if faults.user_limit_calls is not None:
                    window = RateWindow(faults.user_limit_calls, faults.user_limit_window)
                else:
                    window = RateWindow(self._user_limit, HOUR)
                self._user_windows[username] = window
            return window

    def _mutate(self, faults: Faults, settled: threading.Event) -> None:
        try:
            if faults.mutation is not None:
                faults.mutation(self.account)
        finally:
            settled.set()


def _echo_reply(faults: Faults, params: dict[str, t.Any]) -> Reply:
    """The error of Faults.echo_credentials: X-Error and body quote the request's secrets."""
    text = f"Invalid token {params.get('access_token')} for key {params.get('consumer_key')}"
    reply = error_reply(faults.echo_status, faults.echo_error_code, text)
    reply.body += b"\n" + text.encode()
    return reply


def _request_params(
    query_string: str, content_type: str, body: bytes
) -> tuple[dict[str, t.Any], dict[str, str]]:
    """Parameters from the query string and the body (JSON or form), and where each came from.

    The body wins, as it did on Pocket's server for POSTs.
    """
    params: dict[str, t.Any] = dict(parse_qsl(query_string, keep_blank_values=True))
    locations = dict.fromkeys(params, "query")
    body_params: dict[str, t.Any] = {}
    text = body.decode("utf-8", errors="replace").strip()
    if text:
        if "json" in content_type.lower() or text.startswith("{"):
            try:
                decoded = json.loads(text)
            except ValueError:
                decoded = None  # an unreadable body carries no parameters
            body_params = decoded if isinstance(decoded, dict) else {}
        else:
            body_params = dict(parse_qsl(text, keep_blank_values=True))
    params.update(body_params)
    locations.update(dict.fromkeys(body_params, "body"))
    return params, locations


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # close() wakes handler threads itself (drop_connections) rather than joining them: a
    # thread that is still sleeping in Faults.slow must not hold up a test's teardown.
    block_on_close = False
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        emulator: PocketEmulator,
    ) -> None:
        self.emulator = emulator
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, handler)

    def track(self, connection: socket.socket, *, is_open: bool) -> None:
        """Note a connection as open, or as closed, for :meth:`drop_connections`."""
        with self._connections_lock:
            if is_open:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    @override
    def handle_error(self, request: t.Any, client_address: t.Any) -> None:
        """Ignore clients that hang up (or an emulator closing under them): normal here.

        Other errors are emulator bugs and get the default traceback on stderr.
        """
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)

    def drop_connections(self) -> None:
        """Wake handler threads blocked on idle keep-alive connections, so they end."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already gone
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: clients reuse one connection per sync
    server_version = "PocketEmulator"
    disable_nagle_algorithm = True  # headers and body go out at once, no 40 ms stalls
    timeout = 120  # an idle keep-alive connection is closed after this
    server: _Server

    @override
    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, is_open=True)

    @override
    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, is_open=False)

    def do_GET(self) -> None:
        self._answer("GET")

    def do_POST(self) -> None:
        self._answer("POST")

    def _answer(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        emulator = self.server.emulator
        reply = emulator.handle(method, self.path, self.headers, body)
        try:
            if reply.reset:
                self._reset_connection()
            else:
                self._send(reply)
        finally:
            if reply.after is not None:
                reply.after()

    def _send(self, reply: Reply) -> None:
        if reply.drip is not None:
            self._send_dripping(reply)
            return
        self.send_response(reply.status)
        for name, value in self._headers(reply).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.body)

    @staticmethod
    def _headers(reply: Reply) -> dict[str, str]:
        return {
            **reply.headers,
            "X-Source": "Pocket",
            "Content-Type": reply.content_type,
            "Content-Length": str(len(reply.body)),
        }

    def _send_dripping(self, reply: Reply) -> None:
        """The reply with its headers or body sent a byte at a time (Faults.drip)."""
        lines = [
            f"{self.protocol_version} {reply.status} {HTTPStatus(reply.status).phrase}",
            f"Server: {self.version_string()}",
            f"Date: {self.date_time_string()}",
            *(f"{name}: {value}" for name, value in self._headers(reply).items()),
        ]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if reply.drip == "headers":
            self._drip(head, reply.drip_interval)
            self.wfile.write(reply.body)
        else:
            self.wfile.write(head)
            self._drip(reply.body, reply.drip_interval)

    def _drip(self, data: bytes, interval: float) -> None:
        for index in range(len(data)):
            self.wfile.write(data[index : index + 1])
            time.sleep(interval)

    def _reset_connection(self) -> None:
        """Close with SO_LINGER 0: the client sees a TCP reset instead of an answer."""
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()

    @override
    def version_string(self) -> str:
        return self.server_version

    @override
    def date_time_string(self, timestamp: float | None = None) -> str:
        """The Date header follows the account clock, FakeClock included."""
        now = self.server.emulator.account.clock() if timestamp is None else timestamp
        return email.utils.formatdate(now, usegmt=True)

    @override
    def log_message(self, format: str, *args: t.Any) -> None:
        """Silent: a test run makes thousands of requests."""
