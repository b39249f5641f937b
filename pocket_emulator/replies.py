"""What an emulated endpoint answers, independent of the HTTP plumbing that sends it."""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import urlencode

from pocket_emulator.entries import encode

HTML = "text/html; charset=UTF-8"
JSON = "application/json; charset=UTF-8"
FORM = "application/x-www-form-urlencoded"


@dataclass
class Reply:
    """A response to send.

    ``reset``: send nothing, drop the connection instead. ``after``: run once the response
    has gone out. ``drip``: send the ``"headers"`` or the ``"body"`` a byte at a time,
    ``drip_interval`` seconds apart.
    """

    status: int
    body: bytes = b""
    content_type: str = HTML
    headers: dict[str, str] = field(default_factory=dict)
    reset: bool = False
    after: t.Callable[[], None] | None = None
    drip: str | None = None
    drip_interval: float = 0.0

    @classmethod
    def connection_reset(cls) -> Reply:
        """No response at all: the connection is dropped (a TCP reset)."""
        return cls(0, reset=True)

    def with_headers(self, headers: t.Mapping[str, str]) -> Reply:
        """Add ``headers`` (replacing any of the same name); returns this reply."""
        self.headers.update(headers)
        return self


def status_line_body(status: int) -> bytes:
    """Pocket's error bodies were just the status line: ``401 Unauthorized``."""
    return f"{status} {HTTPStatus(status).phrase}".encode()


def error_reply(status: int, error_code: str | int, error: str) -> Reply:
    """An error the legacy way: text/html status-line body, X-Error and X-Error-Code."""
    return Reply(
        status,
        status_line_body(status),
        HTML,
        {"X-Error": error, "X-Error-Code": str(error_code)},
    )


def json_error_reply(status: int, error_code: str | int, error: str, message: str) -> Reply:
    """An error the 2024-25 proxy way: the same headers, and ``{"error": message}``."""
    reply = error_reply(status, error_code, error)
    reply.body, reply.content_type = encode({"error": message}).encode(), JSON
    return reply


def form_or_json_reply(values: dict[str, t.Any], *, as_json: bool) -> Reply:
    """OAuth answers: form-encoded unless the client sent ``X-Accept: application/json``."""
    if as_json:
        return Reply(200, encode(values).encode(), JSON)
    present = {name: value for name, value in values.items() if value is not None}
    return Reply(200, urlencode(present).encode(), FORM)
