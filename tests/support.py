"""Helpers shared by test modules (fixtures live in conftest.py)."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import threading
import time
import typing as t
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tap_pocket.api.convert import entry_highlights, entry_row, lenient_entry
from tap_pocket.rows import to_record

if t.TYPE_CHECKING:
    from http.server import BaseHTTPRequestHandler
    from types import ModuleType


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def unavailable(reason: str) -> t.NoReturn:
    """Skip on a user's machine that lacks ``reason``; fail under CI, which must run it."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: this test must run, not skip)", pytrace=False)
    pytest.skip(reason)


def running(pid: int) -> bool:
    """Whether process ``pid`` exists and has not ended (a zombie has ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def ends_within(pid: int, seconds: float) -> bool:
    """Whether process ``pid`` has ended, or ends within ``seconds``."""
    deadline = time.monotonic() + seconds
    while running(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def completed(row: dict[str, t.Any], fields: tuple[str, ...]) -> dict[str, t.Any]:
    """An export reader row with the columns it lacks as null.

    The reader's row holds only the columns with a value: this checks that contract,
    then lets tests compare whole rows.
    """
    assert set(row) <= set(fields), set(row) - set(fields)
    assert None not in row.values(), row
    return {field: row.get(field) for field in fields}


def item_record(raw: dict[str, t.Any], *, observed_at: str | None = None) -> dict[str, t.Any]:
    """The ``items`` row of one raw ``/v3/get`` entry dict, as the SDK's path gets it."""
    return to_record(entry_row(lenient_entry(raw), observed_at=observed_at))


def entry_record(entry: t.Any, *, observed_at: str | None = None) -> dict[str, t.Any]:
    """The ``items`` row of one typed entry, as the SDK's path gets it."""
    return to_record(entry_row(entry, observed_at=observed_at))


def highlight_records(raw: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    """The ``highlights`` rows of one raw ``/v3/get`` entry dict."""
    return [to_record(row) for row in entry_highlights(lenient_entry(raw))]


def warning_lines(stderr: str) -> list[str]:
    """The WARNING lines of a tap's stderr, less the SDK's end-of-life notice.

    singer-sdk warns on Python 3.10 that the interpreter is past its end of life: about
    the machine the tap runs on, not about the run.
    """
    return [
        line
        for line in stderr.splitlines()
        if "WARNING" in line and "reached its end of life" not in line
    ]


#: A longer fuzz run than CI's: ``HYPOTHESIS_PROFILE=long`` (docs/development.md).
LONG_FUZZ = os.environ.get("HYPOTHESIS_PROFILE", "ci") == "long"


def fuzz_settings(ci_examples: int) -> settings:
    """The fuzz suites' hypothesis settings: ``ci_examples`` in CI, 20,000 in a long run."""
    return settings(
        max_examples=20_000 if LONG_FUZZ else ci_examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def load_module(path: Path) -> ModuleType:
    """The Python file at ``path`` as a module (a script or a fixture, not a package's)."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def send_json(handler: BaseHTTPRequestHandler, body: t.Any, status: int = 200) -> None:
    """Answer a test server's request with ``body`` as JSON."""
    data = json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


class RawServer:
    """A TCP server on a free loopback port: ``answer(connection)`` for each client.

    Each connection is answered in its own daemon thread, which ends when it does (or when
    the client hangs up); :meth:`close` stops accepting.
    """

    def __init__(self, answer: t.Callable[[socket.socket], None]) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.server.getsockname()[1]
        self._answer = answer
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._handle, args=(connection,), daemon=True).start()

    def _handle(self, connection: socket.socket) -> None:
        with connection:
            try:
                self._answer(connection)
            except OSError:
                return  # the client hung up

    def close(self) -> None:
        """Stop accepting connections."""
        self.server.close()
