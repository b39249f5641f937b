"""The on-disk cache of fetched pages: one SQLite file, one row per URL.

A link fetched within ``fetch_refresh_days`` is not fetched again: its row comes from
here (with the current item's id). Each result is stored as soon as it arrives, so an
interrupted run resumes without fetching again what it had. The sites' robots.txt
answers are kept here too (:mod:`tap_pocket.pages.robots` says for how long).
"""

from __future__ import annotations

import sqlite3
import threading
import time
import typing as t
import weakref
from pathlib import Path

import msgspec

from tap_pocket.rows import Page

if t.TYPE_CHECKING:
    from collections.abc import Iterable

_ENCODE = msgspec.json.Encoder().encode
_DECODE = msgspec.json.Decoder(Page).decode


def default_cache_path() -> Path:
    """``pages.sqlite3`` in the user's cache directory for tap-pocket (platformdirs)."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("tap-pocket", appauthor=False)) / "pages.sqlite3"


class PageCache:
    """Fetched rows by URL, with the time they were stored."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        # Closed by close() at the end of a run; a run that stops early (an error, a test
        # that syncs in-process) closes it when the cache is collected.
        weakref.finalize(self, self._db.close)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS pages "
            "(url TEXT PRIMARY KEY, stored_at REAL NOT NULL, row BLOB NOT NULL)"
        )
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS robots "
            "(origin TEXT PRIMARY KEY, stored_at REAL NOT NULL, body TEXT)"
        )
        # The fetcher's thread reads and keeps robots.txt answers while this one stores
        # pages: one connection, one user at a time.
        self._lock = threading.Lock()

    def fresh(self, urls: Iterable[str], max_age_days: float) -> dict[str, Page]:
        """The cached rows of ``urls`` stored less than ``max_age_days`` ago."""
        wanted = list(dict.fromkeys(urls))
        if not wanted or max_age_days <= 0:
            return {}
        oldest = time.time() - max_age_days * 86400
        found: dict[str, Page] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            query = f"SELECT url, row FROM pages WHERE stored_at >= ? AND url IN ({marks})"  # noqa: S608 - only placeholders
            with self._lock:
                rows = self._db.execute(query, [oldest, *chunk]).fetchall()
            for url, row in rows:
                found[url] = _DECODE(row)
        return found

    def store(self, page: Page) -> None:
        """Keep ``page`` under its URL (replacing an older answer)."""
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO pages (url, stored_at, row) VALUES (?, ?, ?)",
                (page.url, time.time(), _ENCODE(page)),
            )

    def robots(self, origin: str, max_age: float) -> tuple[bool, str | None]:
        """(found, its text, None for "no rules") of a robots.txt kept under ``max_age`` s."""
        with self._lock:
            row = self._db.execute(
                "SELECT body FROM robots WHERE origin = ? AND stored_at >= ?",
                (origin, time.time() - max_age),
            ).fetchone()
        return (False, None) if row is None else (True, row[0])

    def store_robots(self, origin: str, text: str | None) -> None:
        """Keep an origin's robots.txt answer: its text, or None for "no rules"."""
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO robots (origin, stored_at, body) VALUES (?, ?, ?)",
                (origin, time.time(), text),
            )

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()
