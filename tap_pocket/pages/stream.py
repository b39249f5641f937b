"""The ``pages`` stream: a child of ``items`` (API or export), not selected by default.

Each context holds a batch of links (:mod:`tap_pocket.pages.batches`); the cache says
which rows it holds and which links are fetched (:mod:`tap_pocket.pages.policy`: definite
answers are kept for ``fetch_refresh_days``, passing failures are tried again). The links
to fetch go to the fetcher, which keeps them in flight across contexts: a context writes
the rows of whatever links have completed so far (each settled in the cache at once) and
returns, so the parent reads on while the links are fetched, and no slow link holds up
any other's row. A context waits only while more than :data:`MAX_PENDING` links are
unfinished (memory stays bounded however many links the library holds). The last context
(the batch marked ``last``) waits for every link still pending.
"""

from __future__ import annotations

import typing as t
from collections import Counter, defaultdict
from pathlib import Path

import msgspec
from singer_sdk.helpers.conform import TypeConformanceLevel
from typing_extensions import override

from tap_pocket.api.streams import ItemsStream
from tap_pocket.export.streams import ExportItemsStream
from tap_pocket.output import DirectRecordsStream
from tap_pocket.pages import outcomes, policy
from tap_pocket.pages.batches import ITEMS_PER_CONTEXT, PAGES_KEY, LinkBatch
from tap_pocket.progress import Throttle
from tap_pocket.rows import PAGES, Page, to_record
from tap_pocket.settings import setting

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from singer_sdk.helpers.types import Context

    from tap_pocket.pages.cache import PageCache
    from tap_pocket.pages.fetch import Fetcher, Link

PROJECT_URL = "https://github.com/tap-pocket/tap-pocket"
#: Links handed to the fetcher whose rows are not written yet: past this, a context waits
#: for rows before it reads on (each is a small task until it completes, then a row).
MAX_PENDING = 2 * ITEMS_PER_CONTEXT


def user_agent() -> str:
    """``tap-pocket/<version> (+<project URL>)``: who is fetching, and where to read why."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        release = version("tap-pocket")
    except PackageNotFoundError:
        release = "dev"
    return f"tap-pocket/{release} (+{PROJECT_URL})"


class _PagesStream(DirectRecordsStream):
    """Each live item's URL fetched: status, redirects, metadata, main text, archived copy."""

    name, primary_keys, replication_key, schema = PAGES
    selected_by_default = False
    is_sorted = False
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE
    # One bookmark for the stream, not one per batch.
    state_partitioning_keys: t.ClassVar[list[str]] = []

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        # What to fetch again is the cache's business (fetch_refresh_days), not a bookmark's:
        # FULL_TABLE unless the catalog asks otherwise (no bookmark, no "unsorted" warning).
        self.forced_replication_method = "FULL_TABLE"
        self._batch = LinkBatch([])
        #: URL -> the links (items) waiting for the fetcher's row of it.
        self._waiting: dict[str, list[Link]] = {}
        self._fetcher: Fetcher | None = None
        self._cache: PageCache | None = None
        self._total = 0
        self._progress = Throttle()
        self._tallies: Counter[outcomes.Tally] = Counter()

    @override
    def preprocess_context(self, context: Context) -> Context:
        context = dict(context)
        self._batch = context.pop(PAGES_KEY, None) or LinkBatch([])
        # What the items' contexts carry for other children is not the pages' business.
        context.pop("highlights", None)
        return context

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, t.Any]]:
        return (to_record(row) for row in self._rows())

    @override
    def direct_rows(self, context: Context | None) -> Iterable[Page]:
        return self._rows()

    def _open(self) -> tuple[Fetcher, PageCache]:
        if self._fetcher is None or self._cache is None:
            from tap_pocket.pages.cache import PageCache, default_cache_path
            from tap_pocket.pages.fetch import Fetcher, FetchSettings

            config = self.config
            path = setting(config, "fetch_cache_path")
            self._cache = PageCache(Path(path) if path else default_cache_path(), self.logger)
            self._fetcher = Fetcher(
                FetchSettings(
                    concurrency=int(setting(config, "fetch_concurrency")),
                    timeout=float(setting(config, "fetch_timeout_seconds")),
                    max_bytes=int(setting(config, "fetch_max_bytes")),
                    respect_robots=bool(setting(config, "fetch_respect_robots")),
                    private_addresses=bool(setting(config, "fetch_private_addresses")),
                    wayback_api_url=str(setting(config, "wayback_api_url") or ""),
                    user_agent=user_agent(),
                    extract_timeout=float(setting(config, "fetch_extract_timeout_seconds")),
                    extract_memory_mb=int(setting(config, "fetch_extract_memory_mb")),
                ),
                robots_store=self._cache,
            )
            self._progress = Throttle()
            self._tallies = Counter()
            if self._cache.usable:
                self.logger.info("pages: cache %s", self._cache.path)
        return self._fetcher, self._cache

    def prepare(self) -> None:
        """At the start of a run that fetches pages: start the extraction.

        A missing or broken extractor dependency then stops the run before any item is read.
        """
        if self.ABORT_AT_RECORD_COUNT is not None:  # a dry run fetches nothing
            return
        fetcher, _cache = self._open()
        fetcher.start_extraction()

    def _rows(self) -> Iterator[Page]:
        from tap_pocket.pages.fetch import Link

        batch, self._batch = self._batch, LinkBatch([])
        if not (batch.links or (batch.last and self._waiting)):
            return
        if self.ABORT_AT_RECORD_COUNT is not None:
            # A dry run or connection test (`--test`) selects every stream: it checks the
            # tap's source, not the saved sites, and fetches none of them.
            self.logger.info("pages: no links fetched in a dry run or connection test")
            return
        fetcher, cache = self._open()
        self._total += len(batch.links)
        new: dict[str, list[Link]] = defaultdict(list)
        for item_id, url, time_added in batch.links:
            link = Link(str(item_id), url or "", time_added)
            if link.url in self._waiting:  # already on its way: its row serves this item too
                self._waiting[link.url].append(link)
            else:
                new[link.url].append(link)
        refresh_days = float(setting(self.config, "fetch_refresh_days"))
        plan = cache.plan((same[0] for same in new.values()), refresh_days, policy.clock())
        for url, page in plan.cached.items():
            for link in new.pop(url):
                fetcher.stats.cached += 1
                yield self._count(msgspec.structs.replace(page, item_id=link.item_id))
        for link in plan.fetch:
            self._waiting[link.url] = new[link.url]
            fetcher.submit([link])
            while fetcher.pending > MAX_PENDING:
                yield from self._settle(self._next_done(fetcher))
        # What has completed goes out now; the rest rides on later contexts.
        while (
            done := self._next_done(fetcher) if batch.last else fetcher.take(wait=False)
        ) is not None:
            yield from self._settle(done)

    def _next_done(self, fetcher: Fetcher) -> Page | None:
        """The next link to complete; the rows written before go to stdout if it must wait.

        Rows leave as their links complete: none waits in the output buffer for a slow
        link (the buffer is flushed only when full otherwise).
        """
        done = fetcher.take(wait=False)
        if done is None and fetcher.pending:
            self.flush_output()
            done = fetcher.take(wait=True)
        return done

    def _settle(self, fetched: Page | None) -> Iterator[Page]:
        """The rows of a fetched link, one per item waiting for it (settled in the cache)."""
        if fetched is None:
            return
        assert self._cache is not None  # noqa: S101 - opened before any link was fetched
        page = self._cache.settle(fetched, policy.clock())
        for link in self._waiting.pop(page.url or "", []):
            yield self._count(msgspec.structs.replace(page, item_id=link.item_id))

    def _count(self, page: Page) -> Page:
        assert self._fetcher is not None  # noqa: S101 - opened before any row
        stats = self._fetcher.stats
        stats.done += 1
        tally = policy.tally(page)
        self._tallies[tally] += 1
        if tally == "ok" and page.final_url and page.final_url != page.url:
            stats.redirected += 1
        if page.error is not None:
            stats.errors += 1
        if page.archived_url:
            stats.archived += 1
        if self._progress.due():
            self.logger.info(
                "pages: %d of %d done, %.1f/s, %d errors so far",
                stats.done,
                self._total,
                stats.done / self._progress.elapsed(),
                stats.errors,
            )
        return page

    @override
    def log_sync_costs(self) -> None:
        # The SDK calls this once per stream at the end of the run: the closing summary.
        self.finish()
        super().log_sync_costs()

    def finish(self) -> None:
        """The closing summary line; closes the fetcher and the cache."""
        fetcher, cache = self._fetcher, self._cache
        self._fetcher = self._cache = None
        if fetcher is None:
            return
        stats = fetcher.stats
        elapsed = self._progress.elapsed()
        if self._waiting:
            # The items stream stopped before its last batch: these links never finished.
            self.logger.warning(
                "pages: %d links not finished (the items stream stopped early); "
                "the next run fetches them",
                len(self._waiting),
            )
            self._waiting = {}
        fetcher.close()
        if cache is not None:
            cache.close()
        tallies = self._tallies
        self.logger.info(
            "pages: %d done in %.1f s (%.1f/s): %d ok, %d redirected, %d dead, "
            "%d archived copies found, %d to retry on a later run, %d skipped, "
            "%d without an article, %d from the cache",
            stats.done,
            elapsed,
            stats.done / elapsed,
            tallies["ok"],
            stats.redirected,
            tallies["dead"],
            stats.archived,
            tallies["retrying"],
            tallies["skipped"],
            tallies["unread"],
            stats.cached,
        )
        if stats.flight_samples:
            # Requests in flight each time a page went to extraction: extraction in worker
            # processes leaves the fetching going.
            self.logger.info(
                "pages: %.1f requests in flight on average when a page went to extraction",
                sum(stats.flight_samples) / len(stats.flight_samples),
            )


class PagesStream(_PagesStream):
    """``pages`` on the API path: a child of ``items`` (one context per /v3/get page)."""

    parent_stream_type = ItemsStream


class ExportPagesStream(_PagesStream):
    """``pages`` on the export path: a child of the export's ``items`` (batches of rows)."""

    parent_stream_type = ExportItemsStream
