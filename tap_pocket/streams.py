"""The tap's streams, ``items`` and ``highlights``, over the API and over exports."""

from __future__ import annotations

import gzip
import itertools
import typing as t
from uuid import uuid4

import msgspec
from singer_sdk import typing as th
from singer_sdk.helpers.conform import TypeConformanceLevel

from tap_pocket.client import PocketStream
from tap_pocket.output import DirectRecordsStream
from tap_pocket.records import (
    PocketEntry,
    entry_highlights,
    entry_record,
    entry_row,
    highlight_records,
    item_record,
)

if t.TYPE_CHECKING:
    import requests
    from singer_sdk.helpers._batch import BaseBatchFileEncoding, BatchConfig
    from singer_sdk.helpers.types import Context

    from tap_pocket.export import ExportReader

_STATUS = th.StringType(allowed_values=["unread", "archived", "deleted", "hidden"])

ITEM_SCHEMA = th.PropertiesList(
    th.Property(
        "item_id",
        th.StringType,
        required=True,
        description="Pocket's item id; for exports without ids, derived from the URL",
    ),
    th.Property("resolved_id", th.StringType, description="Id of the resolved (canonical) URL"),
    th.Property("given_url", th.StringType, description="URL as saved"),
    th.Property("given_title", th.StringType, description="Title as saved"),
    th.Property("resolved_url", th.StringType),
    th.Property("resolved_title", th.StringType),
    th.Property("amp_url", th.StringType),
    th.Property("excerpt", th.StringType),
    th.Property("status", _STATUS, description="unread, archived, deleted or hidden"),
    th.Property("favorite", th.BooleanType),
    th.Property("time_added", th.DateTimeType),
    th.Property("time_updated", th.DateTimeType, description="Replication key"),
    th.Property("time_read", th.DateTimeType, description="When archived; null if never"),
    th.Property("time_favorited", th.DateTimeType),
    th.Property("sort_id", th.IntegerType, description="Position within its API page"),
    th.Property("is_article", th.BooleanType),
    th.Property("is_index", th.BooleanType),
    th.Property("has_video", th.BooleanType, description="Contains or is a video"),
    th.Property("is_video", th.BooleanType, description="The item is itself a video"),
    th.Property("has_image", th.BooleanType, description="Contains or is an image"),
    th.Property("is_image", th.BooleanType, description="The item is itself an image"),
    th.Property("word_count", th.IntegerType),
    th.Property("time_to_read", th.IntegerType, description="Minutes"),
    th.Property("listen_duration_estimate", th.IntegerType, description="Seconds"),
    th.Property("lang", th.StringType),
    th.Property("top_image_url", th.StringType),
    th.Property("tags", th.ArrayType(th.StringType)),
    th.Property(
        "authors",
        th.ArrayType(
            th.ObjectType(
                th.Property("author_id", th.StringType),
                th.Property("name", th.StringType),
                th.Property("url", th.StringType),
            )
        ),
    ),
    th.Property(
        "image",
        th.ObjectType(
            th.Property("src", th.StringType),
            th.Property("width", th.IntegerType),
            th.Property("height", th.IntegerType),
        ),
    ),
    th.Property(
        "images",
        th.ArrayType(
            th.ObjectType(
                th.Property("image_id", th.StringType),
                th.Property("src", th.StringType),
                th.Property("width", th.IntegerType),
                th.Property("height", th.IntegerType),
                th.Property("credit", th.StringType),
                th.Property("caption", th.StringType),
            )
        ),
    ),
    th.Property(
        "videos",
        th.ArrayType(
            th.ObjectType(
                th.Property("video_id", th.StringType),
                th.Property("src", th.StringType),
                th.Property("width", th.IntegerType),
                th.Property("height", th.IntegerType),
                th.Property("type", th.StringType),
                th.Property("vid", th.StringType),
                th.Property("length", th.IntegerType),
            )
        ),
    ),
    th.Property(
        "domain_metadata",
        th.ObjectType(
            th.Property("name", th.StringType),
            th.Property("logo", th.StringType),
            th.Property("greyscale_logo", th.StringType),
        ),
    ),
    th.Property(
        "_sdc_deleted_at",
        th.DateTimeType,
        description="Set on tombstones: the item was deleted or hidden in Pocket",
    ),
).to_dict()

HIGHLIGHT_SCHEMA = th.PropertiesList(
    th.Property(
        "highlight_id",
        th.StringType,
        required=True,
        description="Pocket's annotation id; for exports, derived from url, quote and time",
    ),
    th.Property("item_id", th.StringType, description="The highlighted item (joins to items)"),
    th.Property("url", th.StringType),
    th.Property("title", th.StringType),
    th.Property("quote", th.StringType),
    th.Property("patch", th.StringType, description="Pocket's diff-match-patch anchor (API only)"),
    th.Property(
        "annotation_version",
        th.IntegerType,
        description="Pocket's annotation format version (API only; Pocket's field `version`)",
    ),
    th.Property("created_at", th.DateTimeType),
).to_dict()


class ItemsStream(DirectRecordsStream, PocketStream):
    """Saved items from ``POST /v3/get``, incremental on ``time_updated`` via ``since``.

    When ``highlights`` is selected, the same responses carry the annotations
    (``annotations=1``): each page's highlights go to the child stream as that page
    ends, so no page is fetched twice.
    """

    name = "items"
    primary_keys: t.ClassVar[list[str]] = ["item_id"]
    replication_key = "time_updated"
    schema = ITEM_SCHEMA
    # Rows are built fully typed by tap_pocket.records; re-conforming them is wasted work.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        #: Highlight rows of the page being emitted, handed to the highlights stream.
        self.page_highlights: list[dict[str, t.Any]] = []
        self._entries_left_on_page = 0
        self._page_answered_at: str | None = None

    def _highlights_wanted(self) -> bool:
        return any(child.selected for child in self.child_streams)

    def extra_request_params(self) -> dict[str, t.Any]:
        if not self._highlights_wanted():
            return {}
        if not self.selected:  # only the highlights are wanted: keep the pages small
            return {"annotations": "1", "detailType": "simple"}
        return {"annotations": "1"}

    def parse_response(self, response: requests.Response) -> t.Iterable[dict[str, t.Any]]:
        entries = list(super().parse_response(response))
        self._entries_left_on_page = len(entries)
        # Deletion notices carry no time: they are stamped with when this page was answered.
        server_time = self.page_of(response).server_time
        self._page_answered_at = server_time.isoformat() if server_time else None
        return entries

    def get_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        return self._rows(context, as_structs=False)

    def direct_rows(self, context: Context | None) -> t.Iterable[t.Any]:
        # Typed pages' rows as ItemRow structs: the same JSON, encoded faster.
        return self._rows(context, as_structs=True)

    def _rows(self, context: Context | None, *, as_structs: bool) -> t.Iterator[t.Any]:
        want_highlights = self._highlights_wanted()
        for entry in self.iter_entries(context):
            self._entries_left_on_page -= 1
            observed_at = self._page_answered_at
            if isinstance(entry, PocketEntry):  # a page decoded typed (see records.py)
                if want_highlights and entry.annotations:
                    self.page_highlights.extend(entry_highlights(entry))
                if as_structs:
                    yield entry_row(entry, observed_at=observed_at)
                else:
                    yield entry_record(entry, observed_at=observed_at)
            else:
                if want_highlights and "annotations" in entry:
                    self.page_highlights.extend(highlight_records(entry))
                yield item_record(entry, observed_at=observed_at)

    def generate_child_contexts(
        self, record: dict[str, t.Any], context: Context | None
    ) -> t.Iterable[Context | None]:
        # Called right after each record: once a page's last entry is out, its
        # highlights go to the child stream in one batch.
        if self._entries_left_on_page == 0 and self.page_highlights:
            yield {"page_offset": self.resume_offset}


class HighlightsStream(DirectRecordsStream):
    """Highlights (annotations) of saved items: a child of ``items`` in API mode.

    They arrive inside the item pages (``annotations=1``), so they follow the items
    stream's ``since`` window: each sync emits the highlights of the items it read.
    """

    name = "highlights"
    primary_keys: t.ClassVar[list[str]] = ["highlight_id"]
    replication_key = "created_at"
    schema = HIGHLIGHT_SCHEMA
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE
    parent_stream_type = ItemsStream
    # One bookmark for the stream, not one per page of the parent.
    state_partitioning_keys: t.ClassVar[list[str]] = []

    def get_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        items = t.cast("ItemsStream", self._tap.streams["items"])
        batch, items.page_highlights = items.page_highlights, []
        return batch


class _ExportStream(DirectRecordsStream):
    """Base for streams read from a Pocket export on disk (no HTTP).

    An export is a complete snapshot, so it is always read whole: loading it again
    upserts the same keys rather than skipping what an earlier bookmark covers.
    """

    def __init__(self, *args: t.Any, reader: ExportReader, **kwargs: t.Any) -> None:
        self.reader = reader
        super().__init__(*args, **kwargs)

    def get_batches(
        self, batch_config: BatchConfig, context: Context | None = None
    ) -> t.Iterable[tuple[BaseBatchFileEncoding, list[str]]]:
        """BATCH mode: JSON Lines files written straight from the export's rows.

        The SDK's default batcher sends every row through the per-record path first;
        an export's rows are final as read, so they go to the files directly, encoded by
        msgspec and compressed at gzip's fastest level. Other formats, and catalogs that
        deselect some columns, take the SDK's own path.
        """
        if batch_config.encoding.format != "jsonl" or not all(self.mask.values()):
            yield from super().get_batches(batch_config, context)
            return
        storage = batch_config.storage
        gzipped = batch_config.encoding.compression != "none"
        prefix = f"{storage.prefix or ''}{self.tap_name}--{self.name}-{uuid4()}"
        encode_into = msgspec.json.Encoder().encode_into
        rows = iter(self.get_records(context))
        total = files = 0
        while True:
            # Rows are encoded as they are read: a batch is held as its JSON Lines text
            # only, never as a list of row dicts.
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

    name = ItemsStream.name
    primary_keys = ItemsStream.primary_keys
    replication_key = ItemsStream.replication_key
    schema = ITEM_SCHEMA
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    def get_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        # The reader's rows hold only the columns with a value: 7 of 33 for a CSV row.
        return self.reader.items()


class ExportHighlightsStream(_ExportStream):
    """Highlights from an export's ``annotations/*.json`` or an API dump's annotations."""

    name = HighlightsStream.name
    primary_keys = HighlightsStream.primary_keys
    replication_key = HighlightsStream.replication_key
    schema = HIGHLIGHT_SCHEMA
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    def get_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        return self.reader.highlights()
