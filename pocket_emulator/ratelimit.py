"""Pocket's call budgets: per consumer key and per user, in fixed windows.

Pocket allowed 10,000 calls per consumer key and 320 per user each hour and reported both
budgets on every API answer (``X-Limit-Key-*``, ``X-Limit-User-*``, Reset in seconds).
Windows here run on real monotonic time, not the account clock, so that short windows
in tests expire while a FakeClock stands still.
"""

from __future__ import annotations

import math
import threading
import time
import typing as t

DEFAULT_KEY_LIMIT = 10_000
DEFAULT_USER_LIMIT = 320
HOUR = 3600.0


class RateWindow:
    """A fixed window of ``limit`` calls lasting ``seconds``, opened by its first call."""

    def __init__(
        self,
        limit: int,
        seconds: float = HOUR,
        monotonic: t.Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.seconds = seconds
        self._monotonic = monotonic
        self._opened: float | None = None
        self._used = 0
        self._lock = threading.Lock()

    def take(self) -> bool:
        """Spend one call; False (and nothing spent) when the window is exhausted."""
        with self._lock:
            self._roll()
            if self._used >= self.limit:
                return False
            if self._opened is None:
                self._opened = self._monotonic()
            self._used += 1
            return True

    def headers(self, prefix: str) -> dict[str, str]:
        """``{prefix}-Limit``, ``-Remaining`` and ``-Reset`` (whole seconds) headers."""
        with self._lock:
            self._roll()
            remaining = max(self.limit - self._used, 0)
            reset = (
                self.seconds
                if self._opened is None
                else self._opened + self.seconds - self._monotonic()
            )
            return {
                f"{prefix}-Limit": str(self.limit),
                f"{prefix}-Remaining": str(remaining),
                f"{prefix}-Reset": str(max(math.ceil(reset), 0)),
            }

    def _roll(self) -> None:
        """Start afresh once the current window has ended."""
        if self._opened is not None and self._monotonic() >= self._opened + self.seconds:
            self._opened, self._used = None, 0
