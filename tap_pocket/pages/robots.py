"""robots.txt: each site's rules, read once per origin, kept for a day.

The rules for user agent ``tap-pocket`` apply (else ``*``). A robots.txt answering 4xx
allows everything (RFC 9309); one that cannot be read at all (network error, 5xx) is
treated the same way here, so the page's own fetch reports what is wrong with the site.
The definite answers (a file, or 4xx) are kept in the page cache for
:data:`ROBOTS_MAX_AGE` seconds, the longest RFC 9309 lets a crawler use a cached copy, so
a later run does not ask again; an unreadable one is asked again next run.
"""

from __future__ import annotations

import asyncio
import typing as t
from urllib.robotparser import RobotFileParser

ROBOTS_AGENT = "tap-pocket"
#: Bytes of a robots.txt read, decoded (RFC 9309 asks crawlers to read at least 500 KiB).
ROBOTS_MAX_BYTES = 512 * 1024
#: Seconds a robots.txt answer is used for (RFC 9309, 2.4: not more than 24 hours).
ROBOTS_MAX_AGE = 24 * 3600


class NoRobotsFile(Exception):  # noqa: N818 - an answer, not a failure
    """The site answered 4xx for its robots.txt: there are no rules (RFC 9309: allow all)."""


class RobotsStore(t.Protocol):
    """Where robots.txt answers outlive a run (the page cache)."""

    def robots(self, origin: str, max_age: float) -> tuple[bool, str | None]:
        """(found, its text, None for "no rules") of an answer younger than ``max_age``."""
        ...

    def store_robots(self, origin: str, text: str | None) -> None:
        """Keep an origin's answer: its text, or None for "no rules"."""
        ...


#: Fetches a robots.txt URL: its text, or NoRobotsFile; other errors allow all.
FetchText = t.Callable[[str], t.Awaitable[str]]


class RobotsRules:
    """The parsed robots.txt of each origin seen, fetched once each (concurrent askers wait).

    The link that first asks for an origin fetches its robots.txt, within that link's own
    deadline (``fetch_text`` is that link's); the others asking meanwhile wait for it.
    """

    def __init__(self, store: RobotsStore | None = None) -> None:
        self._store = store
        self._rules: dict[str, asyncio.Future[RobotFileParser | None]] = {}

    async def allowed(self, origin: str, url: str, fetch_text: FetchText) -> bool:
        """Whether ``url`` (on ``origin``, ``scheme://host:port``) may be fetched."""
        future = self._rules.get(origin)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._rules[origin] = future
            parser = None
            try:
                text = await self._text(origin, fetch_text)
                if text is not None:
                    parser = RobotFileParser()
                    parser.parse(text.splitlines())
            except Exception:  # noqa: BLE001, S110 - unreadable robots.txt: allow
                pass
            finally:
                # Also when this link's deadline cancels the read: the others asking
                # for the same origin must not wait forever.
                if not future.done():
                    future.set_result(parser)
        parser = await asyncio.shield(future)
        return parser is None or parser.can_fetch(ROBOTS_AGENT, url)

    async def _text(self, origin: str, fetch_text: FetchText) -> str | None:
        """The origin's robots.txt: kept from an earlier run, or fetched (and kept)."""
        if self._store is not None:
            found, text = self._store.robots(origin, ROBOTS_MAX_AGE)
            if found:
                return text
        try:
            text = await fetch_text(origin + "/robots.txt")
        except NoRobotsFile:
            text = None
        if self._store is not None:
            self._store.store_robots(origin, text)
        return text
