"""Clocks for the emulator: the system clock, or a fake one that tests move by hand."""

from __future__ import annotations

import threading
import time
import typing as t

from typing_extensions import override

#: A clock is any callable returning the current time as whole unix seconds.
Clock = t.Callable[[], int]


def system_clock() -> int:
    """The wall clock, in whole unix seconds (Pocket's timestamps have no fractions)."""
    return int(time.time())


class FakeClock:
    """A clock that stands still until :meth:`advance` moves it; makes tests deterministic.

    >>> clock = FakeClock(start=1_700_000_000)
    >>> clock.advance(5)
    1700000005
    >>> clock()
    1700000005
    """

    def __init__(self, start: int = 1_700_000_000) -> None:
        self._now = int(start)
        self._lock = threading.Lock()

    def __call__(self) -> int:
        """The clock's current time, in whole unix seconds."""
        with self._lock:
            return self._now

    def advance(self, seconds: int = 1) -> int:
        """Move the clock forward by ``seconds`` and return the new time."""
        if seconds < 0:
            msg = "a FakeClock only moves forward"
            raise ValueError(msg)
        with self._lock:
            self._now += int(seconds)
            return self._now

    @override
    def __repr__(self) -> str:
        return f"FakeClock(now={self()})"
