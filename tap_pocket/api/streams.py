"""The API path's streams: ``items`` from ``POST /v3/get`` pages, ``highlights`` riding on them."""

from __future__ import annotations

import typing as t

from singer_sdk.helpers.conform import TypeConformanceLevel
from typing_extensions import override

from tap_pocket.api.children import ChildBatches
from tap_pocket.api.client import PocketStream
from tap_pocket.api.convert import entry_row
from tap_pocket.api.page import BadEntry
from tap_pocket.output import DirectRecordsStream
from tap_pocket.pages.batches import PAGES_KEY, start_pages
from tap_pocket.rows import HIGHLIGHTS, ITEMS, to_record
from tap_pocket.settings import setting

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from singer_sdk.helpers.types import Context

    from tap_pocket.export.problems import BadRows
    from tap_pocket.rows import Highlight, Item


class ItemsStream(DirectRecordsStream, PocketStream):
    """Saved items from ``POST /v3/get``, incremental on ``time_updated`` via ``since``.

    When ``highlights`` is selected, the same pages carry the annotations
    (``annotations=1``), and their highlights go to the child stream in one child context
    per batch of items (:mod:`tap_pocket.api.children`), so no page is fetched twice.
    """

    name, primary_keys, replication_key, schema = ITEMS
    # Rows are built fully typed (tap_pocket.rows); re-conforming them is wasted work.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        #: The current sync's highlights and links on their way to the child streams.
        self._batches: ChildBatches | None = None

    @override
    def wants_highlights(self) -> bool:
        return any(child.selected for child in self.child_streams if child.name == "highlights")

    @override
    def extra_request_params(self) -> dict[str, t.Any]:
        if not self.wants_highlights():
            return {}
        if not self.selected:  # only the highlights are wanted: keep the pages small
            return {"annotations": "1", "detailType": "simple"}
        return {"annotations": "1"}

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, t.Any]]:
        return self._rows(context, to_record)

    @override
    def direct_rows(self, context: Context | None) -> Iterable[Item]:
        return self._rows(context, _as_is)

    def _rows(self, context: Context | None, shape: Callable[[Item], t.Any]) -> Iterator[t.Any]:
        with_pages = start_pages(self)
        with_highlights = self.wants_highlights()
        batches = None
        if with_highlights or with_pages:
            kept_by_map = self.stream_maps[0].get_filter_result
            batches = self._batches = ChildBatches(kept_by_map, with_pages=with_pages)
        bad = None
        try:
            for page in self.pages(context):
                observed_at = page.observed_at
                for part in page.parts(with_highlights=with_highlights):
                    if isinstance(part, BadEntry):
                        bad = self._bad_row(part, bad)
                        continue
                    rows = [shape(entry_row(e, observed_at=observed_at)) for e in part.entries]
                    if batches is None:
                        yield from rows
                    else:
                        yield from batches.rows(part, rows)
        except Exception:
            if batches is not None:
                # What was read goes out before the error, then the resume marker.
                yield from batches.finish()
                self.save_resume_marker()
            raise
        if batches is not None:
            yield from batches.finish()
        if bad is not None:
            bad.summarise(f"POST {self.path}")

    def _bad_row(self, entry: BadEntry, bad: BadRows | None) -> BadRows:
        """Report an entry that is not an item: stop, or with ``skip_bad_rows`` skip it."""
        from tap_pocket.export.problems import BadRows, ExportError

        skip = bool(setting(self.config, "skip_bad_rows"))
        bad = bad or BadRows(self.logger, self.name, skip=skip)
        where = f"The answer to POST {self.path} at offset {entry.offset}"
        hint = "" if skip else " (set skip_bad_rows to skip such entries and load the others)"
        bad.report(ExportError(where, f"{entry}{hint}"))
        return bad

    @override
    def unfinished_offset(self) -> int | None:
        return None if self._batches is None else self._batches.first_offset

    @override
    def generate_child_contexts(
        self, record: dict[str, t.Any] | t.Any, context: Context | None
    ) -> Iterable[Context | None]:
        # The batch's highlights and links: the children take them out of the context
        # (preprocess_context) before the SDK freezes and logs it.
        return () if self._batches is None else self._batches.contexts(record)


def _as_is(row: Item) -> Item:
    return row


class HighlightsStream(DirectRecordsStream):
    """Highlights (annotations) of saved items: a child of ``items`` in API mode.

    They arrive inside the item pages (``annotations=1``), so they follow the items
    stream's ``since`` window: each sync emits the highlights of the items it read.
    """

    name, primary_keys, replication_key, schema = HIGHLIGHTS
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE
    parent_stream_type = ItemsStream
    # One bookmark for the stream, not one per page.
    state_partitioning_keys: t.ClassVar[list[str]] = []

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._rows: list[Highlight] = []

    @override
    def preprocess_context(self, context: Context) -> Context:
        context = dict(context)
        self._rows = context.pop("highlights", [])
        context.pop(PAGES_KEY, None)  # the pages child's links
        return context

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, t.Any]]:
        rows, self._rows = self._rows, []
        return [to_record(row) for row in rows]

    @override
    def direct_rows(self, context: Context | None) -> Iterable[Highlight]:
        rows, self._rows = self._rows, []
        return rows
