"""The tap's export streams: ``items`` and ``highlights`` read from a Pocket export on disk.

They share their name, keys and schema with the API streams (:data:`tap_pocket.rows.ITEMS`,
:data:`tap_pocket.rows.HIGHLIGHTS`) and take their rows from an
:class:`~tap_pocket.export.reader.ExportReader`. An export is a complete snapshot, so it
is always read whole: loading it again upserts the same keys rather than skipping what
an earlier bookmark covers.
"""

from __future__ import annotations

import gzip
import itertools
import typing as t
from uuid import uuid4

import msgspec
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.mapper import SameRecordTransform
from typing_extensions import override

from tap_pocket.export.ids import item_key
from tap_pocket.output import DirectRecordsStream
from tap_pocket.pages.batches import PageBatches, start_pages
from tap_pocket.rows import HIGHLIGHTS, ITEMS

if t.TYPE_CHECKING:
    from collections.abc import Iterable

    from singer_sdk.helpers._batch import BaseBatchFileEncoding, BatchConfig
    from singer_sdk.helpers.types import Context

    from tap_pocket.export.reader import ExportReader


class _ExportStream(DirectRecordsStream):
    """Base for streams read from a Pocket export on disk (no HTTP)."""

    # The reader's rows are final, typed as the schema says: re-conforming is wasted work.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    def __init__(self, *args: t.Any, reader: ExportReader, **kwargs: t.Any) -> None:
        self.reader = reader
        super().__init__(*args, **kwargs)
        # An export is a snapshot, read whole every time: FULL_TABLE unless the catalog
        # asks otherwise (no bookmark that nothing reads, no "unsorted" warning).
        self.forced_replication_method = "FULL_TABLE"

    @override
    def get_batches(
        self, batch_config: BatchConfig, context: Context | None = None
    ) -> Iterable[tuple[BaseBatchFileEncoding, list[str]]]:
        """BATCH mode: JSON Lines files encoded by msgspec, gzipped at the fastest level.

        The rows come from the SDK's own record loop (``Stream._sync_records`` without
        messages, as ``Stream.get_batches`` reads them: bookmarks, counts and STATE are
        the SDK's); only the SDK's batcher, which encodes with simplejson and compresses
        at gzip's slowest level, is replaced. Other formats, and every sync in which
        the SDK's per-record path could change a row (:meth:`writes_directly` false:
        deselected columns, stream maps, ``--test``...), take the SDK's own path.
        """
        if (
            batch_config.encoding.format != "jsonl"
            or not all(self.mask.values())
            or not self.writes_directly(context)
        ):
            yield from super().get_batches(batch_config, context)
            return
        storage = batch_config.storage
        gzipped = batch_config.encoding.compression != "none"
        prefix = f"{storage.prefix or ''}{self.tap_name}--{self.name}-{uuid4()}"
        encode_into = msgspec.json.Encoder().encode_into
        rows = iter(self._sync_records(context, write_messages=False))
        total = files = 0
        while True:
            # Rows are encoded as they are read: a batch is held as its JSON Lines text
            # only, never as a list of rows.
            lines = bytearray()
            count = 0
            for row in itertools.islice(rows, batch_config.batch_size):
                encode_into(row, lines, -1)
                lines += b"\n"
                count += 1
            if not count:
                break
            files += 1
            total += count
            filename = f"{prefix}-{files}.json" + (".gz" if gzipped else "")
            with storage.open(filename, "wb") as file:
                file.write(gzip.compress(lines, compresslevel=1) if gzipped else lines)
            yield batch_config.encoding, [storage.get_url(filename)]
        self.logger.info("Wrote %d %s rows to %d batch files", total, self.name, files)


class ExportItemsStream(_ExportStream):
    """Items from a Pocket export: zip, folder, CSV part, ril_export.html or API dump."""

    name, primary_keys, replication_key, schema = ITEMS

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._page_batches: PageBatches | None = None

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, t.Any]]:
        # The reader's rows hold only the columns with a value: 7 of 33 for a CSV row.
        if start_pages(self):  # batches of kept items' links for `pages`
            batches = self._page_batches = PageBatches(self.stream_maps[0].get_filter_result)
            return batches.rows(self.reader.items())
        return self.reader.items()

    @override
    def generate_child_contexts(
        self, record: dict[str, t.Any] | t.Any, context: Context | None
    ) -> Iterable[Context | None]:
        return () if self._page_batches is None else self._page_batches.contexts(record)


class ExportHighlightsStream(_ExportStream):
    """Highlights from an export's ``annotations/*.json`` or an API dump's annotations.

    As on the API path, where they are a child of ``items`` (the SDK syncs a row's
    children only when the stream map keeps the row), a highlight goes out only if its
    item would: when ``items`` has a stream map (its ``__filter__``, or the stream mapped
    to null, may drop rows; the SDK does not tell whether one is set), the items are read
    first, quietly, through that map's filter, and the highlights of items it drops (or
    that the export does not hold) are left out. That holds whether or not ``items`` is
    selected. Without a map on ``items`` nothing is read twice.
    """

    name, primary_keys, replication_key, schema = HIGHLIGHTS

    def __init__(self, *args: t.Any, items: ExportItemsStream, **kwargs: t.Any) -> None:
        self.items = items
        super().__init__(*args, **kwargs)

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, t.Any]]:
        rows = self.reader.highlights()
        items_map = self.items.stream_maps[0]
        if type(items_map) is SameRecordTransform:  # keeps every item
            return rows
        kept = self.reader.kept_item_keys(items_map.get_filter_result)
        return (row for row in rows if item_key(row["item_id"]) in kept)
