"""The API path's streams: ``items`` from ``POST /v3/get`` pages, ``highlights`` riding on them."""

from __future__ import annotations

import typing as t
from collections import defaultdict

from singer_sdk.helpers.conform import TypeConformanceLevel
from typing_extensions import override

from tap_pocket.api.client import PocketStream
from tap_pocket.api.convert import entry_row
from tap_pocket.output import DirectRecordsStream
from tap_pocket.rows import HIGHLIGHTS, ITEMS, to_record

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from singer_sdk.helpers.types import Context

    from tap_pocket.rows import Highlight, Item


class ItemsStream(DirectRecordsStream, PocketStream):
    """Saved items from ``POST /v3/get``, incremental on ``time_updated`` via ``since``.

    When ``highlights`` is selected, the same pages carry the annotations
    (``annotations=1``), and each item's highlights go to the child stream in its child
    context, so no page is fetched twice.
    """

    name, primary_keys, replication_key, schema = ITEMS
    # Rows are built fully typed (tap_pocket.rows); re-conforming them is wasted work.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        #: The current page's highlights by item_id, until each item's row is out.
        self._page_highlights: dict[str | None, list[Highlight]] = {}

    @override
    def wants_highlights(self) -> bool:
        return any(child.selected for child in self.child_streams)

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
        for page in self.pages(context):
            highlights: defaultdict[str | None, list[Highlight]] = defaultdict(list)
            for highlight in page.highlights:
                highlights[highlight.item_id].append(highlight)
            self._page_highlights = dict(highlights)
            observed_at = page.observed_at
            for entry in page.entries:
                yield shape(entry_row(entry, observed_at=observed_at))

    @override
    def generate_child_contexts(
        self, record: dict[str, t.Any] | t.Any, context: Context | None
    ) -> Iterable[Context | None]:
        item_id = record["item_id"] if isinstance(record, dict) else record.item_id
        highlights = self._page_highlights.pop(item_id, None)
        if highlights:
            # The item's key, and its highlights: the child takes them out of the context
            # (HighlightsStream.preprocess_context) before the SDK freezes and logs it.
            yield {"item_id": item_id, "highlights": highlights}


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
    # One bookmark for the stream, not one per item.
    state_partitioning_keys: t.ClassVar[list[str]] = []

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._rows: list[Highlight] = []

    @override
    def preprocess_context(self, context: Context) -> Context:
        context = dict(context)
        self._rows = context.pop("highlights", [])
        return context

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, t.Any]]:
        rows, self._rows = self._rows, []
        return [to_record(row) for row in rows]

    @override
    def direct_rows(self, context: Context | None) -> Iterable[Highlight]:
        rows, self._rows = self._rows, []
        return rows
