"""robots.txt: each site's rules, read once per origin per run.

The rules for user agent ``tap-pocket`` apply (else ``*``). A robots.txt answering 4xx
allows everything (RFC 9309); one that cannot be read at all (network error, 5xx) is
treated the same way here, so the page's own fetch reports what is wrong with the site.
"""

from __future__ import annotations

import asyncio
import typing as t
from urllib.robotparser import RobotFileParser

if t.TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

ROBOTS_AGENT = "tap-pocket"
#: Bytes of a robots.txt read (RFC 9309 asks crawlers to read at least 500 KiB).
ROBOTS_MAX_BYTES = 512 * 1024


class RobotsRules:
    """The parsed robots.txt of each origin seen, fetched once each (concurrent askers wait)."""

    def __init__(self, fetch_text: Callable[[str], Awaitable[str | None]]) -> None:
        #: Fetches a robots.txt URL; None when there is no usable file (allow all).
        self._fetch_text = fetch_text
        self._rules: dict[str, asyncio.Future[RobotFileParser | None]] = {}

    async def allowed(self, origin: str, url: str) -> bool:
        """Whether ``url`` (on ``origin``, ``scheme://host:port``) may be fetched."""
        future = self._rules.get(origin)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._rules[origin] = future
            parser = None
            try:
                text = await self._fetch_text(origin + "/robots.txt")
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
