"""What is kept, what is tried again and when a link counts as dead: the cache's policy.

Pure functions of one link's :class:`History` and the time; :mod:`tap_pocket.pages.cache`
keeps the histories. The kinds of answer are :mod:`tap_pocket.pages.outcomes`' vocabulary.

- A **definite** answer (a page, a 404, no such host, a robots.txt refusal...) is kept for
  ``fetch_refresh_days``: until then the link's row comes from the cache.
- A **passing** failure (a timeout, a reset, a 5xx, a 429...) is never kept as the
  answer. The link is tried again on the next run after its first failed run, then after
  :data:`RETRY_DELAYS` (6 hours, 1 day, 3 days, then every 7 days), and never later than
  ``fetch_refresh_days`` says.
- A link whose passing failures **persist** counts as dead: :data:`DEAD_AFTER_RUNS` runs
  have failed with no answer between them, the last at least :data:`DEAD_AFTER_DAYS` days
  after the first. Only then is its archived copy looked up. The verdict is the row's own
  (:func:`failure_persisted`): ``attempts`` >= 3 and ``fetched_at`` (the last failed try)
  at least 3 days after ``first_failed_at`` (the first one's), so a query can tell it too.
- While a link that had an answer fails passingly, that answer is still its row (with
  ``attempts`` and ``first_failed_at`` saying a refresh is failing): a page that timed out
  once is not replaced by a bare ``timeout`` row in the user's tables. Once the failures
  persist, the failure is the row (counted dead, with the archived copy).

``attempts`` on a row is the number of runs that tried the link since its last answer:
for an answer, the run that got it plus the failed runs just before it (1 when the first
try answered); while failures are unresolved (``first_failed_at`` set), the runs that have
failed since the last answer.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

import msgspec

from tap_pocket.pages import outcomes
from tap_pocket.rows import Page  # noqa: TC001 - msgspec reads History's field types

HOUR = 3600.0
DAY = 24 * HOUR
#: How long a link waits after its 1st, 2nd, 3rd, 4th and later failed runs.
RETRY_DELAYS: tuple[float, ...] = (0.0, 6 * HOUR, DAY, 3 * DAY, 7 * DAY)
#: A link is dead once this many runs failed, the first DEAD_AFTER_DAYS ago or more.
DEAD_AFTER_RUNS = 3
DEAD_AFTER_DAYS = 3


def clock() -> float:
    """Now, in unix seconds: the time of the pages' decisions and of their ``fetched_at``.

    The one place the stream reads the time from, so that tests can run the tap days
    apart without waiting (tests/conftest.py ``run_cli(clock=...)``).
    """
    return time.time()


class History(msgspec.Struct, frozen=True, gc=False):
    """What the cache knows of one URL."""

    #: The last definite answer (a page or a definite failure), and when it came.
    kept: Page | None = None
    kept_at: float | None = None
    #: Runs whose try failed passingly since ``kept`` (or since the link was first seen).
    failures: int = 0
    #: When the first and the last of those failed runs were (unix seconds).
    first_failed_at: float | None = None
    last_failed_at: float | None = None
    #: The last passing failure's row.
    failed: Page | None = None


def retry_delay(failures: int, refresh_days: float) -> float:
    """Seconds a link waits after its ``failures``-th failed run in a row."""
    delay = RETRY_DELAYS[min(failures, len(RETRY_DELAYS)) - 1]
    return min(delay, max(refresh_days, 0.0) * DAY)


def persisted(failures: int, first_failed_at: float, last_failed_at: float) -> bool:
    """Whether ``failures`` failed runs from ``first_failed_at`` to ``last_failed_at`` are death."""
    span = last_failed_at - first_failed_at
    return failures >= DEAD_AFTER_RUNS and span >= DEAD_AFTER_DAYS * DAY


def failure_persisted(row: Page) -> bool:
    """The row's own verdict: its failures have persisted (``fetched_at``: the last try)."""
    first, last = _moment(row.first_failed_at), _moment(row.fetched_at)
    return first is not None and last is not None and persisted(row.attempts or 0, first, last)


def due(history: History, refresh_days: float, now: float) -> bool:
    """Whether the link is fetched this run; else its row is :func:`shown`."""
    if history.failures:
        last = history.last_failed_at
        # A clock set back (last failure "in the future") waits for nothing.
        return (
            last is None or last > now or now >= last + retry_delay(history.failures, refresh_days)
        )
    if history.kept is None or history.kept_at is None:
        return True
    return refresh_days <= 0 or now - history.kept_at > refresh_days * DAY


def dead_if_failing(history: History, now: float) -> bool:
    """Whether one more failed try, now, would make the link dead."""
    first = history.first_failed_at
    return (
        bool(history.failures) and first is not None and persisted(history.failures + 1, first, now)
    )


def shown(history: History) -> Page:
    """The row of a link not fetched this run (or just failed): see the module docstring."""
    failed = history.failed
    if not history.failures or failed is None:
        assert history.kept is not None  # noqa: S101 - a history holds an answer or a failure
        return history.kept
    if history.kept is not None and not failure_persisted(failed):
        return msgspec.structs.replace(
            history.kept, attempts=failed.attempts, first_failed_at=failed.first_failed_at
        )
    return failed


def settle(history: History | None, page: Page, now: float) -> tuple[History, Page]:
    """The link's history after this run's answer ``page``, and the row to emit."""
    before = history or History()
    if page.error is None or page.error in outcomes.DEFINITE:
        row = msgspec.structs.replace(page, attempts=before.failures + 1, first_failed_at=None)
        return History(kept=row, kept_at=now), row
    failures = before.failures + 1
    first = before.first_failed_at
    if not before.failures or first is None:
        # The first failed try's fetched_at, in whole seconds (it reads back exactly).
        first = float(int(_moment(page.fetched_at) or now))
    failed = msgspec.structs.replace(page, attempts=failures, first_failed_at=iso(first))
    after = History(
        kept=before.kept,
        kept_at=before.kept_at,
        failures=failures,
        first_failed_at=first,
        last_failed_at=now,
        failed=failed,
    )
    return after, shown(after)


def retrying(row: Page) -> bool:
    """Whether ``row``'s link has passing failures that have not persisted (yet)."""
    return row.first_failed_at is not None and not failure_persisted(row)


def tally(row: Page) -> outcomes.Tally:
    """Which count of the closing summary ``row`` adds to."""
    return outcomes.tally(row.error, retrying=retrying(row))


def iso(moment: float) -> str:
    """Unix seconds as the rows' ISO 8601 UTC text."""
    return datetime.fromtimestamp(moment, timezone.utc).isoformat()


def _moment(text: str | None) -> float | None:
    """A row's ISO 8601 text as unix seconds; None when absent or unreadable."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None
