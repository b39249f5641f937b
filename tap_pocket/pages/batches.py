"""How the items streams hand their links to the ``pages`` child stream.

A child context per item would fetch one link at a time; instead the parent yields ONE
child context per batch of at least :data:`ITEMS_PER_CONTEXT` kept items (export rows
here; API pages in :mod:`tap_pocket.api.children`), holding each live item's
``[item_id, url, time_added]`` in a :class:`LinkBatch` under :data:`PAGES_KEY`.

The ``pages`` stream does not wait for a batch's links before the parent reads on: it
starts them and writes the rows of whatever links have completed, so links stay in
flight across contexts. The remaining ones are drained by the LAST context, which the
batch marks :attr:`LinkBatch.last`; it rides on the last row of the sync that the
stream map keeps (the SDK syncs a row's children only when the map keeps the row). To
know which row that is, the rows from the latest kept row on are held back until later
rows show whether another kept row follows (:class:`KeptBatches`).
"""

from __future__ import annotations

import itertools
import typing as t
from dataclasses import dataclass

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from singer_sdk import Stream
    from singer_sdk.helpers.types import Context

PAGES_KEY = "pages"
#: Kept items per child context: the links handed to the fetcher at a time.
ITEMS_PER_CONTEXT = 500
#: Rows held back behind the latest kept row before they go out anyway (with a stream map
#: that keeps few rows, the next kept one may be far away).
MAX_HELD_ROWS = 10_000
_GONE = frozenset({"deleted", "hidden"})


@dataclass(frozen=True)
class LinkBatch:
    """One context's links for ``pages``; ``last``: no more follow, drain them all."""

    links: list[list[str | None]]
    last: bool = False


def wants_pages(stream: Stream) -> bool:
    """Whether the ``pages`` child of ``stream`` is selected."""
    return any(child.name == PAGES_KEY and child.selected for child in stream.child_streams)


@t.runtime_checkable
class _Preparing(t.Protocol):
    def prepare(self) -> None: ...


def start_pages(stream: Stream) -> bool:
    """Whether the ``pages`` child of ``stream`` is selected; if so, it prepares now.

    The items streams call this before they read any item: a missing or broken extractor
    dependency then stops the run at its start (``_PagesStream.prepare``).
    """
    children = [c for c in stream.child_streams if c.name == PAGES_KEY and c.selected]
    for child in children:
        if isinstance(child, _Preparing):
            child.prepare()
    return bool(children)


def row_value(row: t.Any, name: str) -> t.Any:
    """A column of a row, whether a record (dict) or a row struct."""
    return row.get(name) if isinstance(row, dict) else getattr(row, name, None)


def page_links(rows: Iterable[t.Any]) -> list[list[str | None]]:
    """``[item_id, url, time_added]`` of each live item (not deleted or hidden) in ``rows``."""
    links: list[list[str | None]] = []
    for row in rows:
        if row_value(row, "status") in _GONE or row_value(row, "_sdc_deleted_at"):
            continue
        url = row_value(row, "given_url") or row_value(row, "resolved_url")
        links.append([row_value(row, "item_id"), url, row_value(row, "time_added")])
    return links


class ContextRider:
    """A child context waiting for the row it rides on: the SDK asks row by row."""

    def __init__(self) -> None:
        self._ready: tuple[t.Any, Context] | None = None

    def ride(self, row: t.Any, context: Context) -> None:
        """Hand ``context`` to the child streams when the SDK reaches ``row``."""
        self._ready = (row, context)

    def contexts(self, record: t.Any) -> Iterator[Context]:
        """The child context when ``record`` is the row it rides on."""
        ready = self._ready
        if ready is not None and record is ready[0]:
            self._ready = None
            yield ready[1]


class KeptBatches(ContextRider):
    """Rows in order, with a child context on the last kept row of each batch.

    A batch closes once it holds :attr:`size` kept rows and a later kept row shows it is
    not the last; :meth:`finish` closes the last batch, marked as such. Subclasses say
    what a batch's context holds (:meth:`context`).
    """

    def __init__(self, kept: Callable[[t.Any], t.Any], size: int = ITEMS_PER_CONTEXT) -> None:
        super().__init__()
        self._kept = kept
        self.size = size
        #: The kept rows of the open batch.
        self.kept_rows: list[t.Any] = []
        #: Rows from the latest kept row on, not yet handed on.
        self._held: list[t.Any] = []

    def feed(
        self, rows: list[t.Any], gather: Callable[[list[t.Any]], None] | None = None
    ) -> Iterator[t.Any]:
        """The rows that can go out now; ``gather`` sees the kept ones joining the batch."""
        kept_at = [i for i, row in enumerate(rows) if self._kept(row)]
        if not kept_at:
            if self._held:  # they stay behind the row the next context rides on
                self._held.extend(rows)
                if len(self._held) >= MAX_HELD_ROWS:
                    # Too many to hold: they go out, the batch marked last (its links are
                    # drained now, as no later context may come).
                    yield from self.finish()
            else:
                yield from rows
            return
        if self.full():  # and not the last batch: it goes out
            self._close(self._held[0], last=False)
        yield from self._held
        kept_rows = [rows[i] for i in kept_at]
        self.kept_rows += kept_rows
        if gather is not None:
            gather(kept_rows)
        last = kept_at[-1]
        self._held = rows[last:]
        yield from rows[:last]

    def full(self) -> bool:
        """Whether the open batch is complete (it goes out once another kept row comes)."""
        return len(self.kept_rows) >= self.size

    def finish(self) -> Iterator[t.Any]:
        """The held rows, the last batch riding on the first of them (the last kept row)."""
        held, self._held = self._held, []
        if held:
            self._close(held[0], last=True)
        yield from held

    def context(self, *, last: bool) -> Context | None:
        """The child context of the open batch (None: nothing for the children)."""
        links = page_links(self.kept_rows)
        return {PAGES_KEY: LinkBatch(links, last)} if links or last else None

    def _close(self, row: t.Any, *, last: bool) -> None:
        context = self.context(last=last)
        if context is not None:
            self.ride(row, context)
        self.kept_rows = []


class PageBatches(KeptBatches):
    """Export rows read a batch at a time, the links of the kept ones for ``pages``."""

    def rows(self, rows: Iterable[t.Any]) -> Iterator[t.Any]:
        """``rows`` unchanged, with the contexts set on the rows they ride on."""
        iterator = iter(rows)
        try:
            while chunk := list(itertools.islice(iterator, self.size)):
                yield from self.feed(chunk)
        except Exception:
            # What was read goes out before the error, its links fetched.
            yield from self.finish()
            raise
        yield from self.finish()
