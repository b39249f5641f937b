"""How often a long sync says how far it got: one progress line per interval, not per step."""

from __future__ import annotations

import time

#: Seconds between two progress lines at INFO.
PROGRESS_EVERY = 5.0


class Throttle:
    """Says when a progress line is due: once per ``every`` seconds from its start."""

    def __init__(self, every: float = PROGRESS_EVERY) -> None:
        self.every = every
        self.started = self._last = time.monotonic()

    def due(self) -> bool:
        """Whether to log now; if so, the next line is due ``every`` seconds from now."""
        now = time.monotonic()
        if now - self._last < self.every:
            return False
        self._last = now
        return True

    def elapsed(self) -> float:
        """Seconds since the throttle was made (never 0, so rates can divide by it)."""
        return max(time.monotonic() - self.started, 1e-9)
