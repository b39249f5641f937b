"""What can be wrong with an export, told so that users can fix it.

Bad input raises :class:`ExportError`, naming the file (``pocket.zip:part_000001.csv``),
the line and what is wrong. With ``skip_bad_rows`` a bad row is skipped instead, logged
at WARNING (file, line, reason) and counted in a final WARNING (:class:`BadRows`); a
corrupt zip, a broken JSON file, a bad CSV header or a file that is not an export stay
fatal. Line numbers are physical lines: a quoted title spanning three lines counts three.

Duplicates. One export can list a URL twice (e.g. across parts). As both rows would get
the same ``item_id``, the first occurrence wins: each later one is skipped, logged at
INFO with its file and line, and a WARNING at the end gives their number
(:class:`SeenIds`). Identical highlights (same URL, quote and time) are handled the same
way. Only 64-bit integers (the ids' own bits, see :mod:`tap_pocket.export.ids`) are
remembered, not URLs: about 80 bytes per item.

Repeated messages of one kind (bad rows, duplicates) are logged one by one for the first
:data:`LOGGED_ONE_BY_ONE` only; the final WARNING counts all of them, so a hostile export
of millions of bad or repeated rows cannot flood the log.

Caps. No input can make the reader hold more than a few of these at once, so memory
stays bounded (well under 300 MB) whatever the export holds: a value over its cap is a
bad row (file and line named), never read into memory whole.
"""

from __future__ import annotations

import typing as t

from tap_pocket.timestamps import read_unix_time

if t.TYPE_CHECKING:
    import logging

#: A CSV field, an HTML attribute value or link text, a highlight's quote: 1 MiB of text.
FIELD_CAP = 1024 * 1024
#: A CSV record (all its physical lines), an HTML tag, or one entry of an annotations file:
#: 4 MiB of text.
RECORD_CAP = 4 * 1024 * 1024
#: JSON nesting depth of one annotations entry (a real one nests 3 levels).
DEPTH_CAP = 64
#: A zip member up to this size is read and checked (CRC) whole before its rows are
#: parsed; a bigger one is checked by a first pass, then parsed in a second.
MEMBER_BUFFER = 16 * 1024 * 1024
#: An API dump (a saved /v3/get response) up to this size is decoded whole; a larger one
#: is read in batches (:mod:`tap_pocket.export.dumps`).
DUMP_CAP = 64 * 1024 * 1024
#: Messages of one kind logged one by one before the rest are only counted.
LOGGED_ONE_BY_ONE = 20


def size_text(size: int) -> str:
    """A cap as users read it: ``1 MiB``, ``64 MiB``."""
    return f"{size // (1024 * 1024)} MiB"


class ExportError(Exception):
    """A Pocket export that cannot be read, with the file, line and reason for users.

    ``file`` names the file, and for a zip member both, as ``pocket.zip:part_000001.csv``.
    ``line`` (and ``end_line`` for a record spanning lines) are physical line numbers.
    """

    def __init__(
        self, file: str, reason: str, *, line: int | None = None, end_line: int | None = None
    ) -> None:
        self.file = file
        self.reason = reason
        self.line = line
        self.end_line = end_line
        super().__init__(f"{self.location}: {reason}")

    @property
    def location(self) -> str:
        """Where: the file, and its line or lines if known."""
        if self.line is None:
            return self.file
        if self.end_line is not None and self.end_line != self.line:
            return f"{self.file}, lines {self.line}-{self.end_line}"
        return f"{self.file}, line {self.line}"


def shown(value: t.Any, limit: int = 60) -> str:
    """A value as a reason quotes it: its repr, cut in the middle if long."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "…" + text[-3:]


_SHOWN_AS_IS = 20  # characters of a number shown without quotes


def time_added_problem(text: str) -> str | None:
    """Why a ``time_added`` value (CSV field or HTML attribute) is unusable; None if it is not.

    It is read as :func:`~tap_pocket.timestamps.read_unix_time` reads it.
    """
    if not text.strip():
        return "time_added is empty"
    read = read_unix_time(text)
    if not read.number:
        return f"time_added {shown(text)} is not a unix timestamp (seconds since 1970)"
    if read.iso is None:
        number = text.strip()
        if len(number) > _SHOWN_AS_IS:
            number = shown(number)
        return f"time_added {number} is not a date between 2000 and 2100"
    return None


class RoundedTimes:
    """``time_added`` values whose fraction of a second was cut: one WARNING per run.

    ``1600000000.0`` and ``1.6e9`` are that second; a fraction is cut (rounded down,
    :func:`~tap_pocket.timestamps.read_unix_time`) and the first row loaded with one is
    named: Pocket kept whole seconds, so a fraction comes from a tool that re-wrote the
    export.
    """

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger
        self.count = 0

    def note(self, location: str, text: str, iso: str) -> None:
        """A row loaded from ``location`` (file and line) has ``text`` cut to ``iso``."""
        self.count += 1
        if self.count == 1:
            self.logger.warning(
                "%s: time_added %s has a fraction of a second; rounded down to %s (Pocket "
                "kept whole seconds). Other fractional times in this run are rounded down "
                "the same way without a message",
                location,
                shown(text.strip()),
                iso,
            )


class BadRows:
    """Raises on a bad row, or with ``skip_bad_rows`` logs, counts and skips it.

    ``lines`` counts the physical lines lost with the skipped rows (a row spanning three
    lines loses three; a record that is broken, such as one opened by a quote that is
    never closed, loses only its first line: reading goes on at the next).
    """

    def __init__(self, logger: logging.Logger, stream: str, *, skip: bool) -> None:
        self.skip = skip
        self.logger = logger
        self.stream = stream
        self.count = 0
        self.lines = 0

    def report(self, error: ExportError, *, lines: int | None = None, note: str = "") -> None:
        """Raise ``error``, or with ``skip_bad_rows`` log and count it.

        ``lines``: the physical lines lost (default: the lines ``error`` names); ``note``
        is added to the logged message (where reading goes on).
        """
        if not self.skip:
            raise error
        self.count += 1
        if lines is None:
            lines = 1 if error.line is None else (error.end_line or error.line) - error.line + 1
        self.lines += lines
        if self.count <= LOGGED_ONE_BY_ONE:
            self.logger.warning(
                "Skipped a bad %s row (skip_bad_rows): %s%s", self.stream, error, note
            )
            if self.count == LOGGED_ONE_BY_ONE:
                self.logger.warning(
                    "More bad %s rows are only counted, not logged one by one", self.stream
                )

    def summarise(self, export: str) -> None:
        """Log how many rows of ``export`` were skipped, if any, and the lines lost."""
        if not self.count:
            return
        logged = (
            "each is logged above"
            if self.count <= LOGGED_ONE_BY_ONE
            else f"the first {LOGGED_ONE_BY_ONE} are logged above"
        )
        lost = "" if self.lines == self.count else f", {self.lines} lines lost"
        self.logger.warning(
            "Skipped %d bad %s row(s) of %s (skip_bad_rows%s); %s",
            self.count,
            self.stream,
            export,
            lost,
            logged,
        )


class SeenIds:
    """Ids already emitted, as 64-bit integers: the first row of an id wins."""

    def __init__(self, logger: logging.Logger, stream: str) -> None:
        self.keys: set[int] = set()
        self.duplicates = 0
        self.logger = logger
        self.stream = stream

    def duplicate(self, location: str, what: str) -> None:
        """Log and count a row skipped because its id was seen before."""
        self.duplicates += 1
        if self.duplicates <= LOGGED_ONE_BY_ONE:
            self.logger.info("Skipped a duplicate %s row at %s: %s", self.stream, location, what)
            if self.duplicates == LOGGED_ONE_BY_ONE:
                self.logger.info(
                    "More duplicate %s rows are only counted, not logged one by one", self.stream
                )

    def summarise(self, export: str) -> None:
        """Log how many duplicate rows of ``export`` were skipped, if any."""
        if self.duplicates:
            self.logger.warning(
                "Skipped %d duplicate %s row(s) of %s: the first row of each wins",
                self.duplicates,
                self.stream,
                export,
            )
