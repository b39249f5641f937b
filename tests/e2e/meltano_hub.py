"""Meltano Hub's plugin API, on a loopback port, for ``meltano add`` of Hub plugins.

The machines the tests run on cannot reach hub.meltano.com, so a documented command that
adds a plugin from the Hub (``meltano add --plugin-type loader target-jsonl``) runs
against this instead, with ``MELTANO_HUB_URL`` pointing at it. It answers the two requests
Meltano 4's Hub client makes (``meltano/core/hub/client.py``): the index of a plugin type,
``GET /meltano/api/v1/plugins/<type>/index`` (each plugin's default variant, logo and the
URL of each variant's definition), and that URL, ``GET
/meltano/api/v1/plugins/<type>/<name>--<variant>``, the definition as JSON. The definitions
are real Hub data (``tests/fixtures/meltano-hub/``, with their source) and this
repository's own ``hub/tap-pocket.yml``; anything else is a 404, recorded in
:attr:`MeltanoHub.unknown`.
"""

from __future__ import annotations

import threading
import typing as t
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import yaml
from typing_extensions import Self

from tests.support import send_json

from .conftest import REPO

if t.TYPE_CHECKING:
    from pathlib import Path

API = "/meltano/api/v1/plugins"
DEFINITIONS: dict[str, list[Path]] = {
    "extractors": [REPO / "hub" / "tap-pocket.yml"],
    "loaders": sorted((REPO / "tests" / "fixtures" / "meltano-hub" / "loaders").glob("*.yml")),
}


class MeltanoHub:
    """The Hub API for the definitions in :data:`DEFINITIONS`, served while in a ``with``."""

    def __init__(self) -> None:
        self.unknown: list[str] = []
        self.requests: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._definitions = {
            f"{API}/{kind}/{definition['name']}--{definition['variant']}": definition
            for kind, paths in DEFINITIONS.items()
            for definition in (yaml.safe_load(path.read_text(encoding="utf-8")) for path in paths)
        }

    def index(self, kind: str) -> dict[str, t.Any]:
        """The index of one plugin type: each plugin with its variants' definition URLs."""
        plugins: dict[str, t.Any] = {}
        for path, definition in self._definitions.items():
            if not path.startswith(f"{API}/{kind}/"):
                continue
            plugin = plugins.setdefault(
                definition["name"],
                {
                    "default_variant": definition["variant"],
                    "logo_url": definition.get("logo_url"),
                    "variants": {},
                },
            )
            plugin["variants"][definition["variant"]] = {"ref": f"{self.url}{path}"}
        return plugins

    def answer(self, path: str) -> dict[str, t.Any] | None:
        self.requests.append(path)
        if path.startswith(API) and path.endswith("/index"):
            return self.index(path.removeprefix(f"{API}/").removesuffix("/index"))
        return self._definitions.get(path)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = hub.answer(self.path.split("?")[0])
                if body is None:
                    hub.unknown.append(self.path)
                    self.send_error(404)
                    return
                send_json(self, body)

            def log_message(self, format: str, *args: t.Any) -> None:  # noqa: A002
                """Quiet: requests are recorded in ``requests``."""

        return Handler

    def __enter__(self) -> Self:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
