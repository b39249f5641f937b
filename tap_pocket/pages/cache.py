"""The on-disk cache of fetched pages: one SQLite file, one history per URL.

What is kept and what is tried again is :mod:`tap_pocket.pages.policy`'s business; this
module keeps each link's :class:`~tap_pocket.pages.policy.History`, and the sites'
robots.txt answers (:mod:`tap_pocket.pages.robots` says for how long). Each result is
stored as soon as it arrives, so an interrupted run resumes without fetching again what it
had.

The cache can never stop a run, nor touch a file that is not its own:

- it is created ``0600`` (its ``-wal`` and ``-shm`` side files too: SQLite gives them the
  file's mode) in folders the tap creates ``0700``; an existing folder keeps its mode;
- a new file is built under a temporary name and linked into place complete, so the path
  is either absent or a whole cache;
- a file is ours when its SQLite ``application_id`` is :data:`APPLICATION_ID`, or when it
  is exactly the unversioned cache of earlier development builds (tables ``pages(url,
  stored_at, row)`` and ``robots``), which is migrated. Anything else (an empty file, another
  application's database, garbage, a cache from a newer tap-pocket) is only read, with
  SQLite's ``immutable`` flag (no lock, no side file), to tell what it is;
- a cache that cannot be used (that, or one that cannot be read or written) gives one
  WARNING naming the file, and the run goes on without it: every link is fetched and
  nothing is kept. One entry that cannot be read is skipped, and its link fetched again.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import stat
import tempfile
import threading
import typing as t
import weakref
from dataclasses import replace
from pathlib import Path

import msgspec

from tap_pocket.pages import policy
from tap_pocket.pages.policy import History
from tap_pocket.rows import Page

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from tap_pocket.pages.fetch import Link

_ENCODE = msgspec.json.Encoder().encode
_DECODE = msgspec.json.Decoder(Page).decode
_T = t.TypeVar("_T")

#: SQLite ``application_id`` of a tap-pocket page cache: "tPkt".
APPLICATION_ID = int.from_bytes(b"tPkt", "big")
#: SQLite ``user_version`` of the cache's schema. 1 is the unversioned file of earlier builds.
SCHEMA_VERSION = 2
_SQLITE_MAGIC = b"SQLite format 3\x00"

_PAGES_V2 = (
    "CREATE TABLE pages ("
    "url TEXT PRIMARY KEY, "
    "kept BLOB, "  # the last definite answer's row (JSON); null when there is none
    "kept_at REAL, "  # when it was stored (unix seconds)
    "failures INTEGER NOT NULL DEFAULT 0, "  # failed runs since it (History.failures)
    "first_failed_at REAL, "
    "last_failed_at REAL, "
    "failed BLOB)"  # the last passing failure's row (JSON)
)
_ROBOTS = "CREATE TABLE robots (origin TEXT PRIMARY KEY, stored_at REAL NOT NULL, body TEXT)"
#: The tables of the unversioned (schema 1) cache, as SQLite keeps their statements.
_V1_TABLES = {
    "pages": "CREATE TABLE pages "
    "(url TEXT PRIMARY KEY, stored_at REAL NOT NULL, row BLOB NOT NULL)",
    "robots": _ROBOTS,
}
_COLUMNS = "kept, kept_at, failures, first_failed_at, last_failed_at, failed"


def default_cache_path() -> Path:
    """``pages.sqlite3`` in the user's cache directory for tap-pocket (platformdirs)."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("tap-pocket", appauthor=False)) / "pages.sqlite3"


class Plan(t.NamedTuple):
    """One batch's links, split by :meth:`PageCache.plan`."""

    #: URL -> the row that comes from the cache (no request).
    cached: dict[str, Page]
    #: The links to fetch, each with ``dead_if_failing`` set by the policy.
    fetch: list[Link]


class UnusableError(Exception):
    """The file is not a cache this tap can use (the message says why)."""


class PageCache:
    """Each URL's history, with the policy applied (see the module docstring).

    Never raises: a cache that cannot be used logs one WARNING and works as an empty one
    that keeps nothing.
    """

    def __init__(self, path: Path, logger: logging.Logger | None = None) -> None:
        self.path = path
        self._logger = logger or logging.getLogger(__name__)
        # The fetcher's thread reads and keeps robots.txt answers while this one stores
        # pages: one connection, one user at a time.
        self._lock = threading.Lock()
        self._warned_entry = False
        self._db: sqlite3.Connection | None = None
        try:
            self._db = _open(path)
        except UnusableError as exc:
            self._give_up(str(exc))
        except (OSError, sqlite3.Error) as exc:  # what the checks above did not foresee
            self._give_up(f"cannot be used ({exc})")
        else:
            # Closed by close() at the end of a run; a run that stops early (an error, a
            # test that syncs in-process) closes it when the cache is collected.
            weakref.finalize(self, self._db.close)

    @property
    def usable(self) -> bool:
        """Whether the file is in use (False: the run goes on without a cache)."""
        return self._db is not None

    # -- pages ------------------------------------------------------------------------------

    def plan(self, links: Iterable[Link], refresh_days: float, now: float) -> Plan:
        """Which links' rows come from the cache and which are fetched (``links``: one per URL)."""
        links = list(links)
        histories = self._histories([link.url for link in links if link.url])
        cached: dict[str, Page] = {}
        fetch: list[Link] = []
        for link in links:
            history = histories.get(link.url)
            if history is None:
                fetch.append(link)
            elif policy.due(history, refresh_days, now):
                fetch.append(replace(link, dead_if_failing=policy.dead_if_failing(history, now)))
            else:
                cached[link.url] = policy.shown(history)
        return Plan(cached, fetch)

    def settle(self, page: Page, now: float) -> Page:
        """Keep this run's answer for ``page.url`` by the policy; the row to emit."""
        if not page.url:  # an item without a URL has no history
            return policy.settle(None, page, now)[1]
        history = self._histories([page.url]).get(page.url)
        after, row = policy.settle(history, page, now)
        self._run(
            lambda db: db.execute(
                f"INSERT OR REPLACE INTO pages (url, {_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",  # noqa: S608 - a constant
                (page.url, *_columns(after)),
            ),
            None,
        )
        return row

    def _histories(self, urls: list[str]) -> dict[str, History]:
        wanted = list(dict.fromkeys(urls))
        found: dict[str, History] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            query = f"SELECT url, {_COLUMNS} FROM pages WHERE url IN ({marks})"  # noqa: S608 - only placeholders

            def select(db: sqlite3.Connection, q: str = query, c: list[str] = chunk) -> list[t.Any]:
                return db.execute(q, c).fetchall()

            rows: list[t.Any] = self._run(select, [])
            for url, *columns in rows:
                history = _history(columns)
                if history is None:
                    self._unreadable_entry()
                else:
                    found[url] = history
        return found

    def _unreadable_entry(self) -> None:
        # Once a run, and without the URL: a saved link may hold a secret.
        if not self._warned_entry:
            self._warned_entry = True
            self._logger.warning(
                "pages: the page cache %s holds entries that cannot be read: they are "
                "skipped, and their links fetched again",
                self.path,
            )

    # -- robots.txt (RobotsStore) -----------------------------------------------------------

    def robots(self, origin: str, max_age: float) -> tuple[bool, str | None]:
        """(found, its text, None for "no rules") of a robots.txt kept under ``max_age`` s."""
        oldest = policy.clock() - max_age
        row = self._run(
            lambda db: db.execute(
                "SELECT body FROM robots WHERE origin = ? AND stored_at >= ?", (origin, oldest)
            ).fetchone(),
            None,
        )
        if row is None or not isinstance(row[0], (str, type(None))):
            return False, None
        return True, row[0]

    def store_robots(self, origin: str, text: str | None) -> None:
        """Keep an origin's robots.txt answer: its text, or None for "no rules"."""
        now = policy.clock()
        self._run(
            lambda db: db.execute(
                "INSERT OR REPLACE INTO robots (origin, stored_at, body) VALUES (?, ?, ?)",
                (origin, now, text),
            ),
            None,
        )

    # -- the file -----------------------------------------------------------------------------

    def _run(self, work: Callable[[sqlite3.Connection], _T], fallback: _T) -> _T:
        """``work`` on the database; ``fallback`` without one, or when it fails (then none)."""
        with self._lock:
            if self._db is None:
                return fallback
            try:
                return work(self._db)
            except sqlite3.Error as exc:
                db, self._db = self._db, None
                with contextlib.suppress(sqlite3.Error):
                    db.close()
                failure = exc
        self._give_up(f"failed during the run ({failure})")
        return fallback

    def _give_up(self, reason: str) -> None:
        self._logger.warning(
            "pages: not using the page cache %s: it %s. Every link is fetched and nothing is "
            "kept this run (fetch_cache_path can name another file)",
            self.path,
            reason,
        )

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            db, self._db = self._db, None
        if db is not None:
            with contextlib.suppress(sqlite3.Error):
                db.close()


def _columns(history: History) -> tuple[t.Any, ...]:
    return (
        None if history.kept is None else _ENCODE(history.kept),
        history.kept_at,
        history.failures,
        history.first_failed_at,
        history.last_failed_at,
        None if history.failed is None else _ENCODE(history.failed),
    )


def _history(columns: list[t.Any]) -> History | None:
    """A stored entry as a History; None when it is malformed."""
    kept, kept_at, failures, first, last, failed = columns
    try:
        history = History(
            kept=None if kept is None else _DECODE(kept),
            kept_at=kept_at,
            failures=failures,
            first_failed_at=first,
            last_failed_at=last,
            failed=None if failed is None else _DECODE(failed),
        )
    except (msgspec.DecodeError, TypeError):
        return None
    numbers = (history.kept_at, history.first_failed_at, history.last_failed_at)
    well_formed = (
        type(history.failures) is int
        and history.failures >= 0
        and all(n is None or (isinstance(n, (int, float)) and n == n) for n in numbers)  # noqa: PLR0124 - NaN
        and (history.kept is None) == (history.kept_at is None)
        and (
            history.failed is not None and first is not None and last is not None
            if history.failures
            else history.kept is not None
        )
    )
    return history if well_formed else None


# -- opening, creating, identifying and migrating the file -------------------------------


def _open(path: Path) -> sqlite3.Connection:
    """The cache at ``path`` ready for use (created or migrated); UnusableError if not."""
    try:
        info = path.stat()
    except FileNotFoundError:
        _create(path)
        info = path.stat()
    except OSError as exc:
        raise UnusableError(f"cannot be read ({exc.strerror or exc})") from exc
    version = _identify(path, info)
    try:
        # Before SQLite opens it: a file it may only read, it would open read-only and
        # leave side files (-wal, -shm) it cannot remove next to it.
        os.close(os.open(path, os.O_RDWR))
    except OSError as exc:
        raise UnusableError(f"cannot be written ({exc.strerror or exc})") from exc
    try:
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10)
    except sqlite3.Error as exc:
        raise UnusableError(f"cannot be opened ({exc})") from exc
    try:
        # Writable now, not at the first page: a read-only file is known before any fetch.
        stored = db.execute("PRAGMA user_version").fetchone()[0]
        db.execute("BEGIN IMMEDIATE")
        db.execute(f"PRAGMA user_version = {int(stored)}")
        db.execute("ROLLBACK")
        if version < SCHEMA_VERSION:
            _migrate_v1(db, path)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
    except sqlite3.Error as exc:
        db.close()
        raise UnusableError(f"cannot be written ({exc})") from exc
    return db


def _create(path: Path) -> None:
    """A new, complete, empty cache at ``path`` (0600), in folders made 0700."""
    try:
        _private_folders(path.parent)
        handle, temporary = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=".new"
        )
    except OSError as exc:
        raise UnusableError(f"cannot be created ({exc.strerror or exc})") from exc
    os.close(handle)
    try:
        db = sqlite3.connect(temporary, isolation_level=None)
        try:
            db.execute("BEGIN IMMEDIATE")
            db.execute(_PAGES_V2)
            db.execute(_ROBOTS)
            db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            db.execute("COMMIT")
            db.execute("PRAGMA journal_mode=WAL")
        finally:
            db.close()
        try:
            os.link(temporary, path)  # never replaces a file that appeared meanwhile
        except FileExistsError:
            pass  # another run created it: that one is identified like any file
        except OSError:
            if not path.exists():  # a file system without hard links
                Path(temporary).replace(path)
    except (OSError, sqlite3.Error) as exc:
        raise UnusableError(f"cannot be created ({exc})") from exc
    finally:
        with contextlib.suppress(OSError):
            Path(temporary).unlink()


def _private_folders(folder: Path) -> None:
    """Create ``folder`` and its missing parents, each 0700 (existing ones are left)."""
    missing: list[Path] = []
    while not folder.exists():
        missing.append(folder)
        if folder.parent == folder:
            break
        folder = folder.parent
    for created in reversed(missing):
        try:
            created.mkdir(mode=0o700)
        except FileExistsError:
            continue
        created.chmod(0o700)  # mkdir's mode passes through the umask


def _identify(path: Path, info: os.stat_result) -> int:
    """The schema version of our cache at ``path``; UnusableError for any other file.

    Read only: the file is opened immutable, so SQLite neither locks it nor creates side
    files next to it, unless it has a write-ahead log of its own to read.
    """
    _check_sqlite_file(path, info)
    wal = Path(f"{path}-wal")
    uri = path.resolve().as_uri() + "?mode=ro"
    if not (wal.exists() and wal.stat().st_size):
        uri += "&immutable=1"
    try:
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
            application_id = db.execute("PRAGMA application_id").fetchone()[0]
            version = db.execute("PRAGMA user_version").fetchone()[0]
            entries = db.execute("SELECT type, name, sql FROM sqlite_master").fetchall()
    except sqlite3.Error as exc:
        raise UnusableError(f"cannot be read ({exc})") from exc
    if application_id == APPLICATION_ID:
        version = int(version)
        if version > SCHEMA_VERSION:
            raise UnusableError(
                f"was written by a newer tap-pocket (cache schema {version}; "
                f"this one reads {SCHEMA_VERSION})"
            )
        if version < SCHEMA_VERSION:
            raise UnusableError(f"is damaged (cache schema {version})")
        return version
    tables = {name: sql for kind, name, sql in entries if kind == "table"}
    if application_id == 0 and version == 0 and _v1_shape(entries):
        return 1
    described = ", ".join(sorted(tables)) or "none"
    raise UnusableError(
        f"is another application's SQLite database (application_id {application_id}, "
        f"tables: {described}), not a tap-pocket page cache"
    )


def _check_sqlite_file(path: Path, info: os.stat_result) -> None:
    """UnusableError unless ``path`` is a non-empty file that starts as SQLite's do."""
    if not stat.S_ISREG(info.st_mode):
        raise UnusableError("is not a file")
    if info.st_size == 0:
        raise UnusableError("is an empty file, not a tap-pocket page cache")
    try:
        with path.open("rb") as file:
            header = file.read(len(_SQLITE_MAGIC))
    except OSError as exc:
        raise UnusableError(f"cannot be read ({exc.strerror or exc})") from exc
    if header != _SQLITE_MAGIC:
        raise UnusableError("is not a SQLite database, so not a tap-pocket page cache")


def _v1_shape(entries: list[tuple[str, str, str | None]]) -> bool:
    """Whether a database's ``sqlite_master`` is exactly the unversioned (schema 1) cache's."""
    tables = {name: sql for kind, name, sql in entries if kind == "table"}
    others = [name for kind, name, _ in entries if kind != "table"]
    return (
        "pages" in tables
        and all(_V1_TABLES.get(name) == sql for name, sql in tables.items())
        and all(name.startswith("sqlite_autoindex_") for name in others)
    )


def _migrate_v1(db: sqlite3.Connection, path: Path) -> None:
    """The unversioned (schema 1) cache to schema 2, in one transaction.

    Schema 1 kept every answer for fetch_refresh_days, passing failures included. Its
    definite answers are kept (their age with them); what may have been passing (a
    timeout, a reset, TLS, any DNS failure, a 5xx or 429, an "ok" row with nothing read,
    which those builds gave when extraction failed) is dropped: those links are fetched again.
    The file, readable by others as those builds created it, is made 0600.
    """
    db.execute("BEGIN IMMEDIATE")
    db.execute("ALTER TABLE pages RENAME TO pages_v1")
    db.execute(_PAGES_V2)
    db.execute(_ROBOTS.replace("TABLE", "TABLE IF NOT EXISTS", 1))
    for url, stored_at, row in db.execute("SELECT url, stored_at, row FROM pages_v1"):
        try:
            page = _DECODE(row)
        except (msgspec.DecodeError, TypeError):
            continue
        if isinstance(url, str) and isinstance(stored_at, (int, float)) and _v1_definite(page):
            db.execute(
                "INSERT INTO pages (url, kept, kept_at, failures) VALUES (?, ?, ?, 0)",
                (url, _ENCODE(page), stored_at),
            )
    db.execute("DROP TABLE pages_v1")
    db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    db.execute("COMMIT")
    # The header (with the application_id) into the file itself, not only its log.
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for name in (str(path), f"{path}-wal", f"{path}-shm"):
        with contextlib.suppress(FileNotFoundError):
            Path(name).chmod(0o600)


_CLIENT_ERRORS = range(400, 500)
_TOO_MANY_REQUESTS = 429


def _v1_definite(page: Page) -> bool:
    """Whether a schema 1 row is an answer that schema 2 keeps (see :func:`_migrate_v1`)."""
    if page.error is None:
        return bool(page.title or page.text)
    if page.error == "http_error":
        return page.http_status in _CLIENT_ERRORS and page.http_status != _TOO_MANY_REQUESTS
    return page.error in {
        "too_large",
        "not_html",
        "robots",
        "private_address",
        "too_many_redirects",
    }
