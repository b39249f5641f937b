"""A hostile or broken API server, and hostile settings, through the real CLI (issue #13).

Redirects to other origins, a server that ignores ``offset``, a proxy's error page, a
slow server, a revoked token, secrets of the wrong JSON type, OAuth replies that are not
JSON objects and env files that cannot be written: each ends in one clear message naming
the setting or HTTP error, a non-zero exit, no traceback, and no secret sent or shown.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import typing as t
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from typing_extensions import Self, override

from pocket_emulator import Faults, PocketEmulator, generate_account
from pocket_emulator.v3_get import flood_within
from tap_pocket.api.client import MAX_BYTES_PER_ITEM, MAX_PAGE_BYTES, page_cap
from tap_pocket.settings import DEFAULTS

from .conftest import CliResult, config_for, run_cli
from .fixtures.export.hostile import run_measured
from .support import RawServer, warning_lines
from .test_auth import authorize_with_env_file, run_auth

#: A number past the 4300 digits Python reads.
HUGE = b"9" * 5000

if t.TYPE_CHECKING:
    from pathlib import Path
    from types import TracebackType

    from pocket_emulator import Account, FakeClock


class Recorder:
    """A loopback HTTP server on its own port that records every request it gets.

    It answers each with ``status``, ``content_type`` and ``body`` (the n-th request with
    the n-th of a list of bodies, the last one repeated): a stand-in for another origin (a
    redirect target) or for a server that answers oddly.
    """

    def __init__(
        self,
        status: int = 200,
        body: bytes | list[bytes] = b"{}",
        content_type: str = "application/json",
        *,
        chunked: bool = False,
        declared_length: int | None = None,
    ) -> None:
        """A server on a free loopback port, answering as its arguments say.

        ``chunked``: sent without a Content-Length, 1 MiB a chunk, until the client hangs
        up; ``declared_length``: the Content-Length claimed, whatever the body's size.
        """
        bodies = body if isinstance(body, list) else [body]
        self.requests: list[tuple[str, str, bytes]] = []
        #: Answers the client stopped reading before their end.
        self.hung_up = 0
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._answer()

            def do_POST(self) -> None:
                self._answer()

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                recorder.requests.append((self.command, self.path, self.rfile.read(length)))
                body = bodies[min(len(recorder.requests), len(bodies)) - 1]
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                if chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                else:
                    self.send_header("Content-Length", str(declared_length or len(body)))
                self.end_headers()
                try:
                    if chunked:
                        for start in range(0, len(body), 1 << 20):
                            chunk = body[start : start + (1 << 20)]
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                        self.wfile.write(b"0\r\n\r\n")
                    else:
                        self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    recorder.hung_up += 1  # the client stopped reading: what the test wants

            @override
            def log_message(self, format: str, *args: t.Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.server.shutdown()
        self.server.server_close()


#: Credentials for a server that is not the emulator (it never checks them).
CREDENTIALS = {"consumer_key": "ck-1", "access_token": "at-1"}


def get_calls(emulator: PocketEmulator) -> int:
    return sum(1 for r in emulator.requests if r.path == "/v3/get")


#: The SDK's own notice that a stream failed (Stream.sync), which names no cause.
SDK_NOTICE = "An unhandled error occurred while syncing"


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "| ERROR" in line and SDK_NOTICE not in line]


def assert_one_clear_error(stderr: str, *fragments: str) -> str:
    """Exactly one ERROR line with a cause, holding each fragment, and no traceback.

    Besides it, only the SDK's causeless notice may be logged at ERROR. Returns the line.
    """
    assert "Traceback" not in stderr, stderr
    lines = error_lines(stderr)
    assert len(lines) == 1, stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


# Case 6: redirects never carry credentials to another origin -------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_cross_origin_redirect_is_refused_and_the_other_origin_gets_nothing(
    tmp_path: Path, emulator: PocketEmulator, api_config: dict[str, t.Any], status: int
) -> None:
    with Recorder() as elsewhere:
        emulator.faults = Faults().redirect(elsewhere.url, status=status)
        result = run_cli(config=api_config, tmp_path=tmp_path)
        assert elsewhere.requests == []
    assert result.returncode == 1
    assert_one_clear_error(
        result.stderr,
        f"HTTP {status} from {emulator.url} redirects POST /v3/get to another origin, "
        f"{elsewhere.url}",
        "not followed",
    )
    assert get_calls(emulator) == 1  # refused at once, not retried
    assert result.output.records == {}
    for secret in (api_config["consumer_key"], api_config["access_token"]):
        assert secret not in result.stdout + result.stderr


def test_a_redirect_to_plain_http_elsewhere_is_refused_without_connecting(
    tmp_path: Path, emulator: PocketEmulator, api_config: dict[str, t.Any]
) -> None:
    # 192.0.2.1 (TEST-NET-1) is never reachable: following would hang or fail differently.
    emulator.faults = Faults().redirect("http://192.0.2.1", status=308)
    result = run_cli(config=api_config, tmp_path=tmp_path, timeout=60)
    assert result.returncode == 1
    assert_one_clear_error(result.stderr, "another origin, http://192.0.2.1:80")


def test_a_same_origin_redirect_is_refused_too(
    tmp_path: Path, emulator: PocketEmulator, api_config: dict[str, t.Any]
) -> None:
    emulator.faults = Faults().redirect(emulator.url + "/moved", status=307)
    result = run_cli(config=api_config, tmp_path=tmp_path)
    assert result.returncode == 1
    assert_one_clear_error(
        result.stderr, "HTTP 307", "'/moved/v3/get' on the same origin", "set api_url"
    )
    assert get_calls(emulator) == 1


@pytest.mark.parametrize("status", [302, 307, 308])
def test_auth_refuses_a_cross_origin_redirect_and_sends_the_key_nowhere_else(
    tmp_path: Path, emulator: PocketEmulator, status: int
) -> None:
    with Recorder() as elsewhere:
        emulator.faults = Faults().redirect(elsewhere.url, status=status)
        result = run_auth(
            "--consumer-key", emulator.consumer_key, "--api-url", emulator.url, cwd=tmp_path
        )
        assert elsewhere.requests == []
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert f"HTTP {status} from {emulator.url} redirects to another origin, {elsewhere.url}" in (
        result.stderr
    )
    assert emulator.consumer_key not in result.stdout + result.stderr


# Case 9: a server that ignores offset --------------------------------------------------------


def test_a_server_serving_the_same_page_forever_is_stopped(
    tmp_path: Path, clock: FakeClock
) -> None:
    account = generate_account(1, seed=3, clock=clock)
    with PocketEmulator(account, faults=Faults().ignore_offset()) as emulator:
        result = run_cli(config=config_for(emulator), tmp_path=tmp_path, timeout=60)
    assert result.returncode == 1
    assert_one_clear_error(result.stderr, "not advancing through the list", "ignores `offset`")
    # The one item once (not 10,000 copies), after the first page and three without progress.
    assert result.output.ids() == [raw["item_id"] for raw in account.live_items()]
    assert get_calls(emulator) == 4


def test_a_bigger_list_served_from_offset_0_gives_its_first_page_once(
    tmp_path: Path, emulator: PocketEmulator, account: Account, api_config: dict[str, t.Any]
) -> None:
    emulator.faults = Faults().ignore_offset()
    result = run_cli(config=api_config, tmp_path=tmp_path)
    assert result.returncode == 1
    assert "not advancing through the list" in result.stderr
    ids = result.output.ids()
    assert len(ids) == 30
    assert len(set(ids)) == 30
    assert set(ids) <= {raw["item_id"] for raw in account.live_items()}
    assert get_calls(emulator) == 4
    # The state left behind resumes after the page that was read, not past the repeats.
    resume = result.output.state["bookmarks"]["items"]["resume"]
    assert resume["offset"] == 30


# Case 11: clear messages ---------------------------------------------------------------------


def test_a_proxy_400_is_not_blamed_on_the_filter_settings(
    tmp_path: Path, emulator: PocketEmulator, api_config: dict[str, t.Any]
) -> None:
    emulator.faults = Faults().proxy_error(400)
    result = run_cli(config=api_config, tmp_path=tmp_path)
    assert result.returncode == 1
    line = assert_one_clear_error(
        result.stderr, "HTTP 400", "without Pocket's X-Error headers", "check api_url"
    )
    assert "filter" not in line


def test_pockets_own_400_keeps_the_filter_hint(
    tmp_path: Path, emulator: PocketEmulator, api_config: dict[str, t.Any]
) -> None:
    emulator.faults = Faults().fail_first(5, status=400, error_code="130", error="Bad request")
    result = run_cli(config=api_config, tmp_path=tmp_path)
    assert result.returncode == 1
    assert_one_clear_error(result.stderr, "X-Error-Code 130", "check the filter settings")


def test_a_read_timeout_names_request_timeout(
    tmp_path: Path, emulator: PocketEmulator, api_config: dict[str, t.Any]
) -> None:
    emulator.faults = Faults().slow(2.5)
    result = run_cli(
        config={**api_config, "request_timeout": 1, "max_retries": 0}, tmp_path=tmp_path
    )
    assert result.returncode == 1
    assert_one_clear_error(
        result.stderr,
        "No complete answer from POST /v3/get within request_timeout (1 s): its headers had "
        "not all arrived",
    )


def test_an_api_url_nothing_listens_on_is_one_clear_line(
    tmp_path: Path, api_config: dict[str, t.Any]
) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        nowhere = f"http://127.0.0.1:{closed.getsockname()[1]}"
    config = {**api_config, "api_url": nowhere, "max_retries": 1, "backoff_factor": 0.01}
    result = run_cli(config=config, tmp_path=tmp_path)
    assert result.returncode == 1
    assert_one_clear_error(
        result.stderr, f"Could not connect to {nowhere} for POST /v3/get: Connection refused"
    )
    assert "Retrying POST /v3/get" in result.stderr  # retried first, as a network error is


def test_a_bad_access_token_prints_one_clear_line(
    tmp_path: Path, api_config: dict[str, t.Any]
) -> None:
    result = run_cli(config={**api_config, "access_token": "revoked-token-0c1d"}, tmp_path=tmp_path)
    assert result.returncode == 1
    assert_one_clear_error(result.stderr, "HTTP 401, X-Error-Code 107", "tap-pocket auth")
    assert "revoked-token-0c1d" not in result.stdout + result.stderr
    assert result.output.records == {}


# Case 7: secrets of the wrong type -----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "kind"),
    [
        ("access_token", ["at-SECRET-41"], "array"),
        ("access_token", {"token": "at-SECRET-41"}, "object"),
        ("consumer_key", 123456789, "number"),
        ("consumer_key", True, "boolean"),
    ],
)
def test_a_secret_of_the_wrong_type_is_named_not_shown(
    tmp_path: Path, api_config: dict[str, t.Any], name: str, value: t.Any, kind: str
) -> None:
    config = {**api_config, name: value}
    debug = {"TAP_POCKET_LOGLEVEL": "DEBUG"}
    for env in (None, debug):
        result = run_cli(config=config, tmp_path=tmp_path, env=env)
        assert result.returncode == 1
        assert f"{name} must be a string, got a JSON {kind}" in result.stderr
        assert "Traceback" not in result.stderr
        for shown in ("at-SECRET-41", "123456789"):
            assert shown not in result.stdout + result.stderr
    # Discovery needs no credentials: it still works, and still shows no secret.
    discovered = run_cli("--discover", config=config, tmp_path=tmp_path, env=debug)
    assert discovered.returncode == 0, discovered.stderr
    assert "at-SECRET-41" not in discovered.stdout + discovered.stderr
    assert "123456789" not in discovered.stdout + discovered.stderr


def test_secrets_never_appear_on_the_new_error_paths_at_debug(
    tmp_path: Path, emulator: PocketEmulator, api_config: dict[str, t.Any]
) -> None:
    debug = {"TAP_POCKET_LOGLEVEL": "DEBUG"}
    results = []
    with Recorder() as elsewhere:
        for faults in (
            Faults().redirect(elsewhere.url, status=307),
            Faults().ignore_offset(),
            Faults().proxy_error(400),
        ):
            emulator.faults = faults
            results.append(run_cli(config=api_config, tmp_path=tmp_path, env=debug))
        assert elsewhere.requests == []
    for result in results:
        assert result.returncode == 1
        assert "DEBUG" in result.stderr
        for secret in (api_config["consumer_key"], api_config["access_token"]):
            assert secret not in result.stdout
            assert secret not in result.stderr
        for state in result.output.states:
            assert api_config["access_token"] not in json.dumps(state)
            assert api_config["consumer_key"] not in json.dumps(state)


# Case 11: auth edges -------------------------------------------------------------------------


@pytest.mark.parametrize("body", [b"[1, 2]", b'"code"', b"not json at all", b"null"])
def test_auth_says_so_when_the_oauth_reply_is_not_a_json_object(
    tmp_path: Path, body: bytes
) -> None:
    with Recorder(body=body, content_type="application/json") as server:
        result = run_auth("--consumer-key", "ck-7f3a9", "--api-url", server.url, cwd=tmp_path)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "/v3/oauth/request) failed: HTTP 200 with a reply that is not a JSON object" in (
        result.stderr
    )
    assert "ck-7f3a9" not in result.stdout + result.stderr


def test_auth_prints_the_token_when_the_env_folder_is_missing(
    tmp_path: Path, emulator: PocketEmulator
) -> None:
    env_file = tmp_path / "no-such-folder" / ".env"
    code, stdout, stderr = authorize_with_env_file(tmp_path, emulator, env_file).finish()
    assert code == 1
    assert "Traceback" not in stderr
    token = dict(line.split("=", 1) for line in stdout.splitlines())["access_token"]
    assert token
    assert f"{env_file} was not written: No such file or directory" in stderr
    assert not env_file.exists()


def test_auth_prints_the_token_and_keeps_a_non_utf8_env_file(
    tmp_path: Path, emulator: PocketEmulator
) -> None:
    env_file = tmp_path / ".env"
    original = b"OTHER=caf\xe9\n"
    env_file.write_bytes(original)
    code, stdout, stderr = authorize_with_env_file(tmp_path, emulator, env_file).finish()
    assert code == 1
    assert "Traceback" not in stderr
    assert dict(line.split("=", 1) for line in stdout.splitlines())["access_token"]
    assert f"{env_file} was not written: it is not UTF-8 text" in stderr
    assert env_file.read_bytes() == original


# Case 5: tags unique per item, API path and dumps ------------------------------------------

#: One entry whose tags repeat: list-form (as some servers and dumps send them), and
#: name-keyed with two keys naming one tag.
REPEATED_TAGS = {
    "1001": {
        "item_id": "1001",
        "given_url": "https://example.com/soup",
        "status": "0",
        "time_updated": "1700000000",
        "tags": ["recipe", "vegetarian", "recipe", "vegetarian"],
    },
    "1002": {
        "item_id": "1002",
        "given_url": "https://example.com/stew",
        "status": "0",
        "time_updated": "1700000001",
        "tags": {
            "recipe": {"item_id": "1002", "tag": "recipe"},
            "Recipe": {"item_id": "1002", "tag": "recipe"},
            "winter": {"item_id": "1002", "tag": "winter"},
        },
    },
}
UNIQUE_TAGS = {"1001": ["recipe", "vegetarian"], "1002": ["recipe", "winter"]}


def test_api_tags_are_unique_per_item(tmp_path: Path) -> None:
    first = json.dumps({"status": 1, "list": REPEATED_TAGS, "total": "2"}).encode()
    last = json.dumps({"status": 2, "list": [], "total": "2"}).encode()
    with Recorder(body=[first, last]) as server:
        config = {"consumer_key": "ck-1", "access_token": "at-1", "api_url": server.url}
        result = run_cli(config=config, tmp_path=tmp_path)
        assert len(server.requests) == 2
    assert result.returncode == 0, result.stderr
    tags = {r["item_id"]: r["tags"] for r in result.output.records["items"]}
    assert tags == UNIQUE_TAGS


def test_dump_tags_are_unique_per_item(tmp_path: Path) -> None:
    dump = tmp_path / "saved.json"
    dump.write_text(json.dumps({"status": 1, "list": REPEATED_TAGS, "since": 1700000100}))
    result = run_cli(config={"export_path": str(dump)}, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    tags = {r["item_id"]: r["tags"] for r in result.output.records["items"]}
    assert tags == UNIQUE_TAGS


def test_proxies_from_the_environment_are_used_and_no_proxy_bypasses_them(
    tmp_path: Path, emulator: PocketEmulator, account: Account
) -> None:
    """``HTTP(S)_PROXY`` and ``NO_PROXY`` apply to the API as in any requests program.

    The tap resolves them once per sync rather than on every request; a proxy that does
    not answer is one clear error, and no request reaches the API around it.
    """
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead_proxy = f"http://127.0.0.1:{closed.getsockname()[1]}"
    config = {**config_for(emulator), "max_retries": 0}
    proxied = run_cli(config=config, tmp_path=tmp_path, env={"HTTP_PROXY": dead_proxy,
                                                             "NO_PROXY": ""})  # fmt: skip
    assert proxied.returncode == 1
    assert_one_clear_error(
        proxied.stderr, "through the proxy set in the environment", "Connection refused"
    )
    assert not [r for r in emulator.requests if r.path == "/v3/get"]

    bypassed = run_cli(config=config, tmp_path=tmp_path,
                       env={"HTTP_PROXY": dead_proxy, "NO_PROXY": "127.0.0.1"})  # fmt: skip
    assert bypassed.returncode == 0, bypassed.stderr
    assert len(bypassed.output.ids()) == len(account.live_items()) + len(account.deleted_ids())


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_an_answer_larger_than_a_page_can_be_is_not_read(tmp_path: Path, *, chunked: bool) -> None:
    """A page's size is capped by what was asked for: 16 MiB and 64 KiB per item.

    Real entries are 1-5 KB. A server that declares a larger body is refused before it is
    read; one that streams without a Content-Length is cut off at the cap, so memory stays
    bounded whatever the server sends, and the error names the cap and page_size.
    """
    cap = MAX_PAGE_BYTES + MAX_BYTES_PER_ITEM  # page_size 1
    body = b'{"status": 1, "list": {}, "padding": "' + b"x" * (cap + (3 << 20)) + b'"}'
    with Recorder(body=body, chunked=chunked) as server:
        config = {**CREDENTIALS, "api_url": server.url, "page_size": 1}
        result = run_cli(config=config, tmp_path=tmp_path)
    assert result.returncode == 1
    line = assert_one_clear_error(
        result.stderr, f"larger than {cap >> 20} MiB", "lower page_size", "not read"
    )
    assert server.url in line
    assert len(server.requests) == 1  # not retried: the next answer would be as large
    assert result.output.records == {}


def test_a_declared_length_beyond_the_cap_is_refused_before_reading(tmp_path: Path) -> None:
    with Recorder(body=b"{}", declared_length=4 << 30) as server:
        config = {**CREDENTIALS, "api_url": server.url, "page_size": 1}
        result = run_cli(config=config, tmp_path=tmp_path, timeout=30)
    assert result.returncode == 1
    assert_one_clear_error(result.stderr, "declares 4096 MiB", "lower page_size")


# Issue 20, item 7: secrets a server echoes are hidden in every line -----------------------------

#: Credentials of the emulator for the tests that make it quote them back.
ECHOED = {"consumer_key": "CK-echoed-7f3a9c51", "access_token": "AT-echoed-2b8e41d0"}
LEVELS = [{}, {"TAP_POCKET_LOGLEVEL": "DEBUG"}]


@pytest.fixture
def echoing(account: Account) -> t.Iterator[PocketEmulator]:
    with PocketEmulator(account, **ECHOED) as emulator:
        yield emulator


def assert_no_secret(result: CliResult, *secrets: str) -> None:
    """No secret in any line written, in any case, nor in any STATE."""
    written = (result.stdout + result.stderr).lower()
    for secret in secrets:
        assert secret.lower() not in written, secret
        for state in result.output.states:
            assert secret.lower() not in json.dumps(state).lower()


@pytest.mark.parametrize("env", LEVELS, ids=["INFO", "DEBUG"])
def test_a_401_quoting_the_credentials_is_logged_without_them(
    tmp_path: Path, echoing: PocketEmulator, env: dict[str, str]
) -> None:
    echoing.faults = Faults().echo_credentials(10, status=401, error_code="107")
    result = run_cli(config=config_for(echoing), tmp_path=tmp_path, env=env)
    assert result.returncode == 1
    assert result.output.records == {}
    quoted = "X-Error-Code 107: Invalid token <access_token> for key <consumer_key>"
    if env:
        assert "DEBUG" in result.stderr
        assert quoted in result.stderr
    else:
        assert_one_clear_error(result.stderr, quoted, "tap-pocket auth")
    assert_no_secret(result, *ECHOED.values())


@pytest.mark.parametrize("env", LEVELS, ids=["INFO", "DEBUG"])
def test_5xx_retries_quoting_the_credentials_are_logged_without_them(
    tmp_path: Path, echoing: PocketEmulator, account: Account, env: dict[str, str]
) -> None:
    # X-Error and the body quote them; two retries, then the sync completes.
    echoing.faults = Faults().echo_credentials(2, status=503, error_code="199")
    result = run_cli(config=config_for(echoing, max_retries=3), tmp_path=tmp_path, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert len(result.output.ids()) == len(account.live_items()) + len(account.deleted_ids())
    retries = [line for line in result.stderr.splitlines() if "Retrying POST /v3/get" in line]
    assert len(retries) == 2
    assert all("Invalid token <access_token> for key <consumer_key>" in line for line in retries)
    assert_no_secret(result, *ECHOED.values())


class BrokenChunks:
    """A server whose chunked body has, as its first chunk size, the given text.

    requests' exception then quotes it: text from the server inside an exception.
    """

    def __init__(self, text: str) -> None:
        self.answer = (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n" + text.encode() + b"\r\n"
        )
        self.requests = 0
        self.server = RawServer(self._answer)
        self.url = f"http://127.0.0.1:{self.server.port}"

    def _answer(self, connection: socket.socket) -> None:
        connection.recv(1 << 16)
        self.requests += 1
        connection.sendall(self.answer)

    def close(self) -> None:
        self.server.close()


@pytest.mark.parametrize("env", LEVELS, ids=["INFO", "DEBUG"])
def test_an_exception_quoting_a_secret_is_logged_without_it(
    tmp_path: Path, env: dict[str, str]
) -> None:
    server = BrokenChunks(ECHOED["access_token"])
    try:
        config = {**ECHOED, "api_url": server.url, "max_retries": 1, "backoff_factor": 0.01}
        result = run_cli(config=config, tmp_path=tmp_path, env=env)
    finally:
        server.close()
    assert result.returncode == 1
    assert server.requests == 2
    if not env:
        assert_one_clear_error(result.stderr, "broke off", "ChunkedEncodingError")
    else:  # the traceback quotes the server's text: hidden there too
        assert "<access_token>" in result.stderr
    assert_no_secret(result, *ECHOED.values())


@pytest.mark.parametrize("env", LEVELS, ids=["INFO", "DEBUG"])
def test_a_proxy_password_is_never_shown(
    tmp_path: Path, api_config: dict[str, t.Any], env: dict[str, str]
) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        proxy = f"http://someone:PW-proxy-5e1f09@127.0.0.1:{closed.getsockname()[1]}"
    config = {**api_config, "max_retries": 0}
    result = run_cli(
        config=config, tmp_path=tmp_path, env={**env, "HTTP_PROXY": proxy, "NO_PROXY": ""}
    )
    assert result.returncode == 1
    assert "through the proxy set in the environment" in result.stderr
    assert_no_secret(result, "PW-proxy-5e1f09", api_config["access_token"])


def test_auth_hides_the_consumer_key_a_server_quotes(
    tmp_path: Path, echoing: PocketEmulator
) -> None:
    echoing.faults = Faults().echo_credentials(1, status=403, error_code="152")
    result = run_auth(
        "--consumer-key", ECHOED["consumer_key"], "--api-url", echoing.url, cwd=tmp_path
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "X-Error-Code 152: Invalid token None for key <consumer_key>" in result.stderr
    assert ECHOED["consumer_key"].lower() not in (result.stdout + result.stderr).lower()


# Issue 20, item 9: request_timeout bounds a whole request ---------------------------------------


@pytest.mark.parametrize(
    ("part", "interval", "what"),
    [
        # The status line alone takes 5 s: cut off before any header.
        ("headers", 0.3, "its headers had not all arrived"),
        # The status line and a header or two arrive: headers cut off by the deadline must
        # not be read as complete.
        ("headers", 0.05, "its headers had not all arrived"),
        ("body", 0.3, "its body had not all arrived"),
    ],
)
def test_a_server_dripping_bytes_is_cut_off_at_request_timeout(
    tmp_path: Path,
    emulator: PocketEmulator,
    api_config: dict[str, t.Any],
    part: str,
    interval: float,
    what: str,
) -> None:
    # A byte every 0.05 s or 0.3 s: no read waits long, and the whole answer would take half
    # a minute (headers) to hours (body). Each attempt must end at request_timeout (2 s).
    emulator.faults = Faults().drip(interval, part=part)
    config = {**api_config, "request_timeout": 2, "max_retries": 1}
    began = time.monotonic()
    result = run_cli(config=config, tmp_path=tmp_path, timeout=110)
    took = time.monotonic() - began
    assert result.returncode == 1
    assert result.output.records == {}
    assert_one_clear_error(
        result.stderr, f"No complete answer from POST /v3/get within request_timeout (2 s): {what}"
    )
    assert result.stderr.count("Retrying POST /v3/get") == 1
    assert get_calls(emulator) == 2
    # Generous: two attempts of 2 s and the start-up; a per-read timeout would take minutes.
    assert took < 60


# Issue 20, item 8: memory bounded by the answer cap in bytes ------------------------------------

#: The peak RSS no answer within the cap may take the tap past.
RSS_CAP_MB = 300


@pytest.mark.slow
def test_an_answer_of_tiny_entries_filling_the_cap_loads_in_bounded_memory(
    tmp_path: Path, emulator: PocketEmulator
) -> None:
    """At the default page_size, an answer packed to its cap with the smallest items.

    1.1 million entries of ``"<id>":{}`` (each a row): what the tap holds is the answer's
    bytes and one part of its entries, not the entries (the bench runs page_size 5000).
    """
    page_size = DEFAULTS["page_size"]
    entries = flood_within(page_cap(page_size))
    emulator.faults = Faults().flood(entries)
    config = {**config_for(emulator), "page_size": page_size}
    result = run_measured(config, tmp_path, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert result.record_count() == entries
    assert get_calls(emulator) == 2  # the flood, then the empty page after it
    assert result.peak_rss_mb < RSS_CAP_MB


def test_many_tiny_entries_are_read_in_runs_to_the_last(
    tmp_path: Path, emulator: PocketEmulator
) -> None:
    # More objects than are cut in one go (INDEXED_OBJECTS): read a run at a time.
    entries = 150_000
    emulator.faults = Faults().flood(entries)
    result = run_measured({**config_for(emulator), "page_size": 30}, tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.record_count() == entries
    ids = [record["item_id"] for record in result.records()]
    assert ids == [str(number) for number in range(entries)]


def test_an_answer_past_the_cap_of_its_page_size_is_not_read(
    tmp_path: Path, emulator: PocketEmulator
) -> None:
    page_size = 30
    entries = flood_within(page_cap(page_size)) + 10_000
    emulator.faults = Faults().flood(entries)
    result = run_cli(config=config_for(emulator, page_size=page_size), tmp_path=tmp_path)
    assert result.returncode == 1
    assert result.output.records == {}
    assert_one_clear_error(
        result.stderr, f"larger than {page_cap(page_size) >> 20} MiB", "lower page_size"
    )
    assert get_calls(emulator) == 1


# Issue 20, item 10: odd entries are one bad row each ---------------------------------------------


def sync_order(tmp_path: Path, emulator: PocketEmulator) -> list[str]:
    """The item ids in the order a clean sync emits them (offsets follow it)."""
    clean = run_cli(config=config_for(emulator), tmp_path=tmp_path)
    assert clean.returncode == 0, clean.stderr[-3000:]
    return clean.output.ids()


def make_odd_entries(account: Account, order: list[str]) -> tuple[Faults, str, str, str]:
    """A float item_id, a 5000-digit authors key and a 5000-digit word_count, on page 2.

    Returns the faults that make them and the three items' ids.
    """
    floated, keyed, counted = order[33], order[35], order[40]
    account.overwrite_fields(
        keyed,
        authors={
            "77777": {"item_id": keyed, "author_id": "77777", "name": "Huge", "url": ""},
            "2": {"item_id": keyed, "author_id": "2", "name": "Two", "url": ""},
        },
    )
    account.overwrite_fields(counted, word_count="88888")
    faults = (
        Faults()
        .patch_body(f'"item_id":"{floated}"'.encode(), b'"item_id":1.5')
        .patch_body(b'{"77777":{', b'{"' + HUGE + b'":{')
        .patch_body(b'"word_count":"88888"', b'"word_count":' + HUGE)
    )
    return faults, floated, keyed, counted


def test_api_entries_with_huge_numbers_or_a_float_id_are_one_bad_row_each(
    tmp_path: Path, emulator: PocketEmulator, account: Account
) -> None:
    order = sync_order(tmp_path, emulator)
    faults, floated, keyed, counted = make_odd_entries(account, order)
    emulator.faults = faults
    bad = (
        f"The answer to POST /v3/get at offset 30: list entry 4 (key '{floated}'): "
        "item_id 1.5 is not text or an integer"
    )

    skipped = run_cli(config=config_for(emulator, skip_bad_rows=True), tmp_path=tmp_path)
    assert skipped.returncode == 0, skipped.stderr[-3000:]
    assert "Traceback" not in skipped.stderr
    rows = {row["item_id"]: row for row in skipped.output.records["items"]}
    assert sorted(rows) == sorted(set(order) - {floated})
    assert [author["name"] for author in rows[keyed]["authors"]] == ["Two", "Huge"]
    assert rows[counted]["word_count"] is None
    warnings = warning_lines(skipped.stderr)
    assert len(warnings) == 2
    assert bad in warnings[0]
    assert "Skipped 1 bad items row(s) of POST /v3/get (skip_bad_rows)" in warnings[1]

    stopped = run_cli(config=config_for(emulator), tmp_path=tmp_path)
    assert stopped.returncode == 1
    assert stopped.output.ids() == order[: order.index(floated)]
    assert_one_clear_error(stopped.stderr, bad, "set skip_bad_rows")


def test_dump_entries_with_huge_numbers_or_a_float_id_are_one_bad_row_each(
    tmp_path: Path,
) -> None:
    entries = [
        b'"1001": {"item_id": "1001", "given_url": "https://e.com/1", "status": "0"}',
        b'"1002": {"item_id": 1.5, "given_url": "https://e.com/2", "status": "0"}',
        b'"1003": {"item_id": "1003", "status": "0", "authors": {"%s": {"name": "Huge"}, '
        b'"2": {"name": "Two"}}, "word_count": %s, "sort_id": %s}' % (HUGE, HUGE, HUGE),
        b'"1004": {"item_id": "1004", "given_url": "https://e.com/4", "status": "0"}',
    ]
    dump = tmp_path / "saved.json"
    dump.write_bytes(b'{\n"status": 1,\n"list": {\n' + b",\n".join(entries) + b"\n}\n}\n")
    bad = f"{dump}, line 5: list entry 2 (key '1002'): item_id 1.5 is not text or an integer"

    skipped = run_cli(config={"export_path": str(dump), "skip_bad_rows": True}, tmp_path=tmp_path)
    assert skipped.returncode == 0, skipped.stderr[-3000:]
    assert "Traceback" not in skipped.stderr
    rows = {row["item_id"]: row for row in skipped.output.records["items"]}
    assert sorted(rows) == ["1001", "1003", "1004"]
    assert [author["name"] for author in rows["1003"]["authors"]] == ["Two", "Huge"]
    assert "word_count" not in rows["1003"]  # null: a dump's rows hold only set columns
    warnings = warning_lines(skipped.stderr)
    assert len(warnings) == 2
    assert bad in warnings[0]

    stopped = run_cli(config={"export_path": str(dump)}, tmp_path=tmp_path)
    assert stopped.returncode == 1
    assert stopped.output.ids() == ["1001"]
    assert_one_clear_error(stopped.stderr, bad)
