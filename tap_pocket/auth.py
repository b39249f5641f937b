"""``tap-pocket auth``: Pocket's OAuth flow in one command.

Pocket's flow has four steps: obtain a request token (``/v3/oauth/request``), send the
user's browser to ``/auth/authorize``, receive the redirect back, and trade the request
token for an access token (``/v3/oauth/authorize``). This module does all four, with a
one-shot listener on 127.0.0.1 receiving the redirect.
"""

from __future__ import annotations

import http.server
import os
import secrets
import sys
import tempfile
import threading
import typing as t
import webbrowser
from http import HTTPStatus
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import click
import requests
from typing_extensions import Self, override

from tap_pocket.redact import REDACTOR, redact_output
from tap_pocket.settings import DEFAULT_API_URL, api_url_error, origin

#: What Pocket's OAuth X-Error-Codes mean for the person running the command.
OAUTH_HINTS = {
    "152": "the consumer key is not valid for this Pocket server: check --consumer-key",
    "158": "the authorization was declined in the browser; run the command again and approve",
    "159": "this request token was already used; run the command again",
    "181": "the redirect URI was rejected by Pocket",
    "182": "Pocket received no request token; run the command again",
    "185": "Pocket does not know this request token (expired?); run the command again",
    "199": "Pocket reported a server issue; try again later",
}


class OAuthError(click.ClickException):
    """A failed OAuth step, with Pocket's X-Error text and code when it gave them."""

    exit_code = 2


def oauth_error(step: str, response: requests.Response) -> OAuthError:
    """The error for a failed OAuth answer: HTTP status, Pocket's code and text, a hint."""
    code = response.headers.get("X-Error-Code")
    text = response.headers.get("X-Error") or response.reason
    message = f"{step} failed: HTTP {response.status_code}"
    if code:
        message += f", X-Error-Code {code}"
    message += f": {text}"
    if hint := OAUTH_HINTS.get(code or ""):
        message += f" (hint: {hint})"
    return OAuthError(message)


def parse_oauth_reply(response: requests.Response, step: str = "OAuth") -> dict[str, str]:
    """Pocket replies form-encoded unless asked for JSON; accept both.

    Raises :class:`OAuthError` for a JSON reply that is not a JSON object.
    """
    if "json" in response.headers.get("Content-Type", ""):
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise OAuthError(
                f"{step} failed: HTTP {response.status_code} with a reply that is not a JSON "
                f"object (Content-Type {response.headers.get('Content-Type')!r})"
            )
        return {str(k): str(v) for k, v in body.items() if v is not None}
    return {k: v[0] for k, v in parse_qs(response.text, keep_blank_values=True).items()}


def post_oauth(
    api_url: str, path: str, payload: dict[str, str], step: str, timeout: float
) -> dict[str, str]:
    """POST one OAuth step to Pocket as JSON, and return its reply (or raise OAuthError)."""
    try:
        response = requests.post(
            f"{api_url}{path}",
            json=payload,
            headers={
                "X-Accept": "application/json",
                "Content-Type": "application/json; charset=UTF-8",
            },
            timeout=timeout,
            # The body carries the consumer key: a redirect is never followed (it could
            # re-send the key to another origin), see redirect_error.
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        raise OAuthError(
            f"{step} failed: could not reach {api_url}: {type(exc).__name__}"
        ) from None
    if HTTPStatus.MULTIPLE_CHOICES <= response.status_code < HTTPStatus.BAD_REQUEST:
        raise redirect_error(step, response)
    if response.status_code != HTTPStatus.OK:
        raise oauth_error(step, response)
    return parse_oauth_reply(response, step)


def redirect_error(step: str, response: requests.Response) -> OAuthError:
    """The error for a redirect answer to an OAuth step: it names both origins."""
    here = origin(str(response.request.url))
    location = response.headers.get("Location")
    if not location:
        return OAuthError(f"{step} failed: HTTP {response.status_code} redirect without Location")
    target = origin(urljoin(str(response.request.url), location))
    if target != here:
        return OAuthError(
            f"{step} failed: HTTP {response.status_code} from {here} redirects to another "
            f"origin, {target}; not followed: the consumer key is only ever sent to "
            f"--api-url's origin ({here}). If the API moved, pass its new address as --api-url"
        )
    return OAuthError(
        f"{step} failed: HTTP {response.status_code} from {here} redirects to "
        f"{urlsplit(urljoin(str(response.request.url), location)).path!r} on the same origin; "
        "redirects are not followed: pass the address the API answers on as --api-url"
    )


class RedirectListener:
    """A one-shot HTTP listener on 127.0.0.1 that waits for Pocket's redirect."""

    def __init__(self, port: int = 0) -> None:
        self.received = threading.Event()
        self.path = "/tap-pocket/callback/" + secrets.token_urlsafe(8)
        listener = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if urlsplit(self.path).path != listener.path:
                    self.send_error(404)
                    return
                body = b"tap-pocket: authorization received. You can close this tab.\n"
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                listener.received.set()

            @override
            def log_message(self, format: str, *args: t.Any) -> None:
                pass  # the redirect URL is not worth logging

        try:
            self.server = http.server.HTTPServer(("127.0.0.1", port), Handler)
        except OSError as exc:
            raise OAuthError(
                f"cannot listen on 127.0.0.1:{port} for Pocket's redirect ({exc.strerror}); "
                "choose another --port or leave it out to pick a free one"
            ) from None
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def redirect_uri(self) -> str:
        """Where Pocket sends the browser back to: this listener."""
        return f"http://127.0.0.1:{self.server.server_address[1]}{self.path}"

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for Pocket's redirect; whether it came."""
        return self.received.wait(timeout)


def authorize_url(api_url: str, request_token: str, redirect_uri: str) -> str:
    """The page where the user approves tap-pocket, for ``request_token``."""
    query = urlencode({"request_token": request_token, "redirect_uri": redirect_uri})
    return f"{api_url}/auth/authorize?{query}"


class EnvFileError(click.ClickException):
    """The env file could not be written (the token was printed already)."""

    exit_code = 1


def write_env_file(path: Path, values: dict[str, str]) -> None:
    """Set ``values`` in a dotenv file, keeping its other lines, readable by the owner only.

    Raises :class:`EnvFileError`, naming the file and why, if it cannot be read or written.
    """
    try:
        _write_env_file(path, values)
    except UnicodeDecodeError as exc:
        msg = (
            f"{path} was not written: it is not UTF-8 text (byte {exc.start}), so its "
            "other lines could not be kept. Save the values above by hand or choose another file"
        )
        raise EnvFileError(msg) from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        msg = (
            f"{path} was not written: {reason}. Save the values above by hand or choose "
            "another file"
        )
        raise EnvFileError(msg) from None


def _write_env_file(path: Path, values: dict[str, str]) -> None:
    # A symlinked .env keeps its link: the file it points to is the one rewritten.
    path = path.resolve() if path.is_symlink() else path
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    kept = [
        line
        for line in lines
        if line.split("=", 1)[0].strip().removeprefix("export ") not in values
    ]
    kept += [f"{key}={value}" for key, value in values.items()]
    # Written beside it (mkstemp: owner-only from the start), then renamed over it: a
    # failure part-way (disk full, a kill) leaves the old file whole, never a cut one.
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write("\n".join(kept) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def run_oauth_flow(  # noqa: PLR0913 - keyword-only: the inputs of the whole flow
    *,
    consumer_key: str,
    api_url: str,
    open_browser: bool,
    timeout: float,
    port: int,
    echo: t.Callable[[str], None],
) -> dict[str, str]:
    """All four OAuth steps; returns ``{"access_token": ..., "username": ...}``."""
    with RedirectListener(port) as listener:
        reply = post_oauth(
            api_url,
            "/v3/oauth/request",
            {"consumer_key": consumer_key, "redirect_uri": listener.redirect_uri},
            "Requesting a request token (/v3/oauth/request)",
            timeout=30,
        )
        request_token = reply.get("code")
        if not request_token:
            raise OAuthError("Pocket's /v3/oauth/request reply had no request token (code)")
        url = authorize_url(api_url, request_token, listener.redirect_uri)
        echo(f"Open this URL in a browser and approve tap-pocket:\n\n  {url}\n")
        if open_browser:
            webbrowser.open(url)
        if not listener.wait(timeout):
            raise OAuthError(
                f"timed out after {timeout:.0f} s waiting for the browser to come back from "
                "Pocket; run the command again (or raise --timeout)"
            )
    reply = post_oauth(
        api_url,
        "/v3/oauth/authorize",
        {"consumer_key": consumer_key, "code": request_token},
        "Trading the request token for an access token (/v3/oauth/authorize)",
        timeout=30,
    )
    if not reply.get("access_token"):
        raise OAuthError("Pocket's /v3/oauth/authorize reply had no access_token")
    return {"access_token": reply["access_token"], "username": reply.get("username", "")}


@click.command(name="auth")
@click.option(
    "--consumer-key",
    envvar="TAP_POCKET_CONSUMER_KEY",
    required=True,
    help="Your Pocket app's consumer key (or set TAP_POCKET_CONSUMER_KEY).",
)
@click.option(
    "--api-url",
    envvar="TAP_POCKET_API_URL",
    default=DEFAULT_API_URL,
    show_default=True,
    help="Pocket or a Pocket-compatible server.",
)
@click.option("--no-browser", is_flag=True, help="Print the URL instead of opening a browser.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=300,
    show_default=True,
    help="Seconds to wait for the browser to come back.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="Local port for the redirect listener (0: any free port).",
)
@click.option(
    "--write-env",
    "env_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also save TAP_POCKET_ACCESS_TOKEN and TAP_POCKET_CONSUMER_KEY in this .env file "
    "(other lines are kept; the file is made readable by you only).",
)
def auth_command(  # noqa: PLR0913, PLR0917 - click passes each option as a parameter
    consumer_key: str,
    api_url: str,
    no_browser: bool,  # noqa: FBT001 - a click flag
    timeout: float,
    port: int,
    env_file: Path | None,
) -> None:
    """Get a Pocket access token through Pocket's OAuth flow."""
    REDACTOR.protect("consumer_key", [consumer_key])
    redact_output(stdout=True)
    api_url = api_url.rstrip("/")
    if problem := api_url_error(api_url):
        raise click.BadParameter(problem, param_hint="--api-url")
    result = run_oauth_flow(
        consumer_key=consumer_key,
        api_url=api_url,
        open_browser=not no_browser,
        timeout=timeout,
        port=port,
        echo=lambda text: click.echo(text, err=True),
    )
    click.echo(f"access_token={result['access_token']}")
    click.echo(f"username={result['username']}")
    if env_file is not None:
        write_env_file(
            env_file,
            {
                "TAP_POCKET_CONSUMER_KEY": consumer_key,
                "TAP_POCKET_ACCESS_TOKEN": result["access_token"],
            },
        )
        click.echo(
            f"Saved TAP_POCKET_ACCESS_TOKEN and TAP_POCKET_CONSUMER_KEY to {env_file}", err=True
        )


def main(argv: list[str] | None = None) -> None:
    """``tap-pocket auth``: run the command with ``argv`` (default: after ``auth``)."""
    auth_command.main(args=argv if argv is not None else sys.argv[2:], prog_name="tap-pocket auth")
