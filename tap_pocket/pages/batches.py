"""How the items streams hand their links to the ``pages`` child stream.

A child context per item would fetch one link at a time; instead the parent yields ONE
child context per batch of :data:`ITEMS_PER_CONTEXT` items (export rows here; API pages
gathered by :mod:`tap_pocket.api.children`),
holding each live item's ``[item_id, url, time_added]`` under :data:`PAGES_KEY`, and the
``pages`` stream fetches that batch concurrently. As with highlights, the context goes out
with the batch's first row that the stream map keeps, and holds only the kept items.
"""

from __future__ import annotations

import itertools
import typing as t

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from singer_sdk import Stream
    from singer_sdk.helpers.types import Context

PAGES_KEY = "pages"
#: Items per child context: links fetched concurrently before the next rows are read.
ITEMS_PER_CONTEXT = 500
_GONE = frozenset({"deleted", "hidden"})


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


def _get(row: t.Any, name: str) -> t.Any:
    return row.get(name) if isinstance(row, dict) else getattr(row, name, None)


def page_links(rows: Iterable[t.Any]) -> list[list[str | None]]:
    """``[item_id, url, time_added]`` of each live item (not deleted or hidden) in ``rows``."""
    links: list[list[str | None]] = []
    for row in rows:
        if _get(row, "status") in _GONE or _get(row, "_sdc_deleted_at"):
            continue
        url = _get(row, "given_url") or _get(row, "resolved_url")
        links.append([_get(row, "item_id"), url, _get(row, "time_added")])
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


class PageBatches(ContextRider):
    """Export rows in batches, each with one pages context riding on its first kept row."""

    def __init__(self, size: int = ITEMS_PER_CONTEXT) -> None:
        super().__init__()
        self.size = size

    def rows(self, rows: Iterable[t.Any], kept: Callable[[t.Any], t.Any]) -> Iterator[t.Any]:
        """``rows`` unchanged, a batch at a time, setting each batch's context."""
        iterator = iter(rows)
        while chunk := list(itertools.islice(iterator, self.size)):
            kept_rows = [row for row in chunk if kept(row)]
            links = page_links(kept_rows)
            if links:
                self.ride(kept_rows[0], {PAGES_KEY: links})
            yield from chunk
