"""Loaded (via PYTHONPATH) only into the alternatives' processes that bench/run.py starts.

Rewrites every ``requests`` call to ``https://getpocket.com`` so that it goes to the
emulator at ``$BENCH_POCKET_URL`` instead. Nothing else of the tool is changed: its
parameters, page size, pagination and sleeps stay as published.
"""

from __future__ import annotations

import os
import typing as t

_TARGET = os.environ.get("BENCH_POCKET_URL", "").rstrip("/")
_ORIGINS = ("https://getpocket.com", "http://getpocket.com")

if _TARGET:
    import requests.sessions

    _send = requests.sessions.Session.send

    def _redirected_send(
        self: requests.sessions.Session, request: requests.PreparedRequest, **kwargs: t.Any
    ) -> requests.Response:
        for origin in _ORIGINS:
            if request.url and request.url.startswith(origin):
                request.url = _TARGET + request.url[len(origin) :]
                break
        return _send(self, request, **kwargs)

    requests.sessions.Session.send = _redirected_send  # type: ignore[method-assign]
