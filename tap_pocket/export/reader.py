"""The export reader: the rows of an export, whatever form it comes in.

One reader serves the tap's two export streams, opening the export anew for each. Its
form is detected from the content (:mod:`~.detect`).

``items`` come from a pocket.zip's (or folder's) CSV parts (:mod:`~.csv_parts`); a
``ril_export.html`` next to CSV parts is ignored (the parts hold the same items), without
parts it is read instead (:mod:`~.ril_html`); or from a single CSV part, a single
ril_export.html, or an API dump (:mod:`~.dumps`). ``highlights`` come from a pocket.zip's
``annotations/part_*.json`` (:mod:`~.annotations`) or an API dump; CSV and HTML exports
carry none. Duplicate ids and bad rows are counted per stream and summarised at its end
(:mod:`~.problems`).

Memory. CSV, HTML and annotations files are streamed, one file at a time, each value
capped (:mod:`~.problems`): memory stays flat at any size, zip bombs included. An API dump
is read whole (its size capped) and decoded once per reader; its page serves both streams.
"""

from __future__ import annotations

import itertools
import logging
import typing as t
from pathlib import Path

from typing_extensions import override

from tap_pocket.export.annotations import annotation_highlights
from tap_pocket.export.csv_parts import csv_items
from tap_pocket.export.detect import ExportKind, detect_kind
from tap_pocket.export.dumps import Dump, dump_highlights, dump_items, read_dump
from tap_pocket.export.ids import item_key
from tap_pocket.export.layout import ExportFile, open_layout
from tap_pocket.export.problems import BadRows, RoundedTimes, SeenIds
from tap_pocket.export.ril_html import html_items

if t.TYPE_CHECKING:
    import os
    from collections.abc import Callable, Iterator


class ExportReader:
    """Streams the ``items`` and ``highlights`` rows of a Pocket export.

    The constructor does no I/O (the tap builds one at discovery); each of :meth:`items`
    and :meth:`highlights` opens the export anew, so they can run in either order.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        skip_bad_rows: bool = False,
        logger: logging.Logger | None = None,
    ) -> None:
        self.path = Path(path).expanduser()
        self.skip_bad_rows = skip_bad_rows
        self.logger = logger or logging.getLogger(__name__)
        #: ``time_added`` values with a fraction of a second: one WARNING per run.
        self.times = RoundedTimes(self.logger)
        self._dump: Dump | None = None

    def items(self, logger: logging.Logger | None = None) -> Iterator[dict[str, t.Any]]:
        """Every ``items`` row of the export, in file order; the first row of a URL wins.

        ``logger``: where its messages go, if not to the reader's. Nothing is read before
        the first row is asked for.
        """
        # Chained in C, file by file: a row passes through no generator but its file's.
        return itertools.chain.from_iterable(self._item_files(logger or self.logger))

    def _item_files(self, log: logging.Logger) -> Iterator[Iterator[dict[str, t.Any]]]:
        """The rows of the export, as one iterator per file; the summaries after them."""
        kind = detect_kind(self.path)
        log.info("Reading items from the Pocket export %s (%s)", self.path, kind.value)
        bad = BadRows(log, "items", skip=self.skip_bad_rows)
        if kind is ExportKind.API_JSON:
            yield dump_items(self._api_dump(), bad)
            bad.summarise(str(self.path))
            return
        seen = SeenIds(log, "items")
        if kind is ExportKind.CSV:
            yield csv_items(self._single_file(), seen, bad, self.times)
        elif kind is ExportKind.HTML:
            yield html_items(self._single_file(), seen, bad, self.times)
        else:
            yield from self._layout_item_files(kind, seen, bad, log)
        seen.summarise(str(self.path))
        bad.summarise(str(self.path))

    def kept_item_keys(self, keep: Callable[[dict[str, t.Any]], t.Any]) -> set[int | str]:
        """The ids (as :func:`~.ids.item_key` gives them) of the items ``keep`` keeps.

        The items are read again, as :meth:`items` reads them, with their messages at
        DEBUG only: they were logged when the items were read, or are not asked for.
        """
        quiet = _AtDebug(f"{self.logger.name}.again")
        quiet.parent = self.logger
        return {item_key(row["item_id"]) for row in self.items(quiet) if keep(row)}

    def highlights(self) -> Iterator[dict[str, t.Any]]:
        """Every ``highlights`` row: from ``annotations/part_*.json`` or an API dump."""
        kind = detect_kind(self.path)
        self.logger.info("Reading highlights from the Pocket export %s (%s)", self.path, kind.value)
        if kind is ExportKind.API_JSON:
            yield from dump_highlights(self._api_dump())
            return
        if kind not in (ExportKind.ZIP, ExportKind.FOLDER):
            self.logger.info("%s has no highlights: only pocket.zip exports carry them", self.path)
            return
        bad = BadRows(self.logger, "highlights", skip=self.skip_bad_rows)
        seen = SeenIds(self.logger, "highlights")
        with open_layout(self.path, kind) as layout:
            if not layout.annotation_parts:
                self.logger.info("%s has no annotations/part_*.json: no highlights", self.path)
            for part in layout.annotation_parts:
                self.logger.info("Reading %s", part.name)
                yield from annotation_highlights(part, seen, bad)
        seen.summarise(str(self.path))
        bad.summarise(str(self.path))

    def _single_file(self) -> ExportFile:
        return ExportFile.on_disk(self.path)

    def _api_dump(self) -> Dump:
        """The API dump, read on first use: a small one's items and highlights share a page."""
        if self._dump is None:
            self._dump = read_dump(self.path)
        return self._dump

    def _layout_item_files(
        self, kind: ExportKind, seen: SeenIds, bad: BadRows, log: logging.Logger
    ) -> Iterator[Iterator[dict[str, t.Any]]]:
        with open_layout(self.path, kind) as layout:
            if layout.csv_parts:
                if layout.html is not None:
                    log.info(
                        "Ignoring %s: the CSV parts beside it hold the same items",
                        layout.html.name,
                    )
                for part in layout.csv_parts:
                    log.info("Reading %s", part.name)
                    yield csv_items(part, seen, bad, self.times)
            elif layout.html is not None:
                yield html_items(layout.html, seen, bad, self.times)
            else:
                log.warning(
                    "%s holds highlights (annotations/part_*.json) but no items (no "
                    "part_*.csv or ril_export.html)",
                    self.path,
                )


class _AtDebug(logging.Logger):
    """A logger whose INFO and WARNING messages go out at DEBUG: for a second reading."""

    @override
    def info(self, msg: object, *args: object, **kwargs: t.Any) -> None:
        self.debug(msg, *args, **kwargs)

    @override
    def warning(self, msg: object, *args: object, **kwargs: t.Any) -> None:
        self.debug(msg, *args, **kwargs)
