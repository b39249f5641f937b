"""An export's JSON files as text, with errors that name the line.

An API dump is read whole (:func:`json_text`; its size is capped). An annotations part
is streamed by :func:`json_array_elements`: a small scanner finds where each element of
the top-level array ends (strings, escapes and brackets followed across chunks), and only
that element's text is decoded, so whitespace or an element of any size never sits in
memory whole. An element over :data:`~.problems.RECORD_CAP` characters or nested deeper
than :data:`~.problems.DEPTH_CAP` is skipped to its end and given as an
:class:`ElementProblem`, as is one holding a number too long to read; NaN, Infinity and
numbers too big for a float (``1e400``) decode as non-finite floats, for the reader to
refuse. Invalid UTF-8 and syntax errors end the reading with an error naming the line.
"""

from __future__ import annotations

import codecs
import json
import re
import typing as t
from dataclasses import dataclass

from tap_pocket.export.problems import DEPTH_CAP, RECORD_CAP, ExportError, size_text

if t.TYPE_CHECKING:
    from collections.abc import Iterator

_JSON_WHITESPACE = re.compile(r"[ \t\n\r]*")
#: A string's body up to its closing quote (or the chunk's end, or a lone backslash there).
_STRING_BODY = re.compile(r'[^"\\]*(?:\\.[^"\\]*)*', re.DOTALL)
#: What changes the scanner's state inside an array or object.
_STRUCTURE = re.compile(r'[\[\]{}"]')
#: A number or a literal (true, false, null, NaN...): up to a separator or whitespace.
_SCALAR = re.compile(r"[^,\]}\s]*")
_CHUNK_BYTES = 64 * 1024
_NUMBER_DIGITS = 40  # more digits than any timestamp: not read (int() of huge text is slow)


@dataclass(frozen=True)
class ElementProblem:
    """An array element that was skipped, and why."""

    reason: str


class _NumberTooLongError(ValueError):
    pass


def _bounded_int(text: str) -> int:
    if len(text) > _NUMBER_DIGITS:
        raise _NumberTooLongError(text)
    return int(text)


def json_text(name: str, data: bytes) -> str:
    """The text of the JSON file ``name``; invalid UTF-8 is reported with its line.

    A UTF-8 BOM is tolerated.
    """
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        shown = data[exc.start : exc.end].hex(" ")
        raise ExportError(name, f"invalid UTF-8 (bytes {shown})", line=line) from exc


def json_syntax_error(name: str, exc: json.JSONDecodeError, what: str) -> ExportError:
    """The error for the JSON file ``name`` that is not valid JSON; ``what`` it should be."""
    return ExportError(
        name,
        f"is not valid JSON ({exc.msg} at column {exc.colno}); expected {what}",
        line=exc.lineno,
    )


class _Scan:
    """Decoded text of a binary JSON file, chunk by chunk, with line numbers."""

    def __init__(self, name: str, binary: t.IO[bytes]) -> None:
        self.name = name
        self.binary = binary
        self.decoder = codecs.getincrementaldecoder("utf-8-sig")("strict")
        self.buf = ""
        self.pos = 0
        self.eof = False
        self._line = 1  # the line of buf[self._mark]
        self._mark = 0

    def line(self, position: int | None = None) -> int:
        """The line of ``buf[position]`` (default: the current position); never backwards."""
        position = self.pos if position is None else position
        self._line += self.buf.count("\n", self._mark, position)
        self._mark = position
        return self._line

    def column(self) -> int:
        """Characters before ``pos`` on its line (as far as this chunk tells)."""
        return self.pos - self.buf.rfind("\n", 0, self.pos) - 1

    def refill(self) -> bool:
        """Drop the text before ``pos`` and read the next chunk; False at the end."""
        self.line(len(self.buf))
        self.buf, self.pos, self._mark = "", 0, 0
        while not self.buf:
            if self.eof:
                return False
            data = self.binary.read(_CHUNK_BYTES)
            self.eof = not data
            try:
                self.buf = self.decoder.decode(data, final=self.eof)
            except UnicodeDecodeError as exc:
                line = self._line + exc.object.count(b"\n", 0, exc.start)
                shown = exc.object[exc.start : exc.end].hex(" ")
                raise ExportError(self.name, f"invalid UTF-8 (bytes {shown})", line=line) from exc
        return True

    def skip_whitespace(self) -> str:
        """The next character that is not whitespace, at ``pos`` ("" at the end)."""
        while True:
            match = _JSON_WHITESPACE.match(self.buf, self.pos)
            self.pos = match.end() if match else self.pos
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self.refill():
                return ""


class _Element:
    """Finds where one JSON value ends, across chunks, keeping its text up to the cap."""

    def __init__(self) -> None:
        self.pieces: list[str] = []
        self.size = 0
        self.depth = 0
        self.deepest = 0
        self.in_string = False
        self.escaped = False
        self.scalar = False

    def keep(self, text: str) -> None:
        self.size += len(text)
        if self.size <= RECORD_CAP:
            self.pieces.append(text)
        else:
            self.pieces.clear()

    def end_in(self, buf: str, i: int) -> int:  # noqa: C901, PLR0912 - one state machine
        """Where the value ends in ``buf`` (from ``i``), or -1 if it goes on."""
        n = len(buf)
        while i < n:
            if self.in_string:
                if self.escaped:
                    self.escaped = False
                    i += 1
                    continue
                j = _STRING_BODY.match(buf, i).end()  # type: ignore[union-attr]
                if j >= n:
                    return -1
                if buf[j] == "\\":  # a backslash ending the chunk: its escape comes next
                    self.escaped = True
                    i = j + 1
                    continue
                self.in_string = False
                i = j + 1
                if self.depth == 0:
                    return i
            elif self.scalar:
                j = _SCALAR.match(buf, i).end()  # type: ignore[union-attr]
                return -1 if j >= n else j
            elif self.depth == 0:  # the value's first character
                char = buf[i]
                if char == '"':
                    self.in_string = True
                    i += 1
                elif char in "[{":
                    self.depth = self.deepest = 1
                    i += 1
                else:
                    self.scalar = True
            else:
                i = self._structure(buf, i)
                if self.depth == 0:
                    return i
        return -1

    def _structure(self, buf: str, i: int) -> int:
        """Step over brackets and strings inside an array or object; stop at depth 0."""
        n = len(buf)
        if buf.find('"', i) < 0:  # only brackets left in this chunk: count them (fast)
            closing = buf.count("]", i) + buf.count("}", i)
            if closing < self.depth:
                self.depth += buf.count("[", i) + buf.count("{", i) - closing
                self.deepest = max(self.deepest, self.depth)
                return n
        while i < n:
            match = _STRUCTURE.search(buf, i)
            if match is None:
                return n
            char = match.group()
            i = match.end()
            if char == '"':
                self.in_string = True
                return i
            if char in "[{":
                self.depth += 1
                self.deepest = max(self.deepest, self.depth)
            else:
                self.depth -= 1
                if self.depth == 0:
                    return i
        return n


def json_array_elements(
    name: str, binary: t.IO[bytes], what: str
) -> Iterator[tuple[int, int, t.Any]]:
    """``(index, line, value)`` for each element of the JSON array in ``binary``.

    ``binary`` is the file ``name``, which should be an array of ``what``. ``value`` is an
    :class:`ElementProblem` for an element that cannot be decoded (over a cap, too deep, a
    number too long); anything else wrong ends the reading with an :class:`ExportError`.
    """
    scan = _Scan(name, binary)
    if scan.skip_whitespace() != "[":
        raise ExportError(name, f"expected a JSON array of {what}", line=scan.line())
    scan.pos += 1
    index = 0
    if scan.skip_whitespace() == "]":
        scan.pos += 1
    else:
        while True:
            scan.skip_whitespace()
            line = scan.line()
            yield index, line, _element(scan, line, scan.column(), what)
            index += 1
            char = scan.skip_whitespace()
            scan.pos += 1
            if char == "]":
                break
            if char != ",":
                raise ExportError(
                    name,
                    "is not valid JSON (expected ',' or ']' in the array)",
                    line=scan.line(scan.pos - 1),
                )
    if scan.skip_whitespace() != "":
        raise ExportError(name, "is not valid JSON (text after the array's end)", line=scan.line())


def _element(scan: _Scan, line: int, column: int, what: str) -> t.Any:
    """The value starting at ``scan.pos`` (which ends up after it), decoded or refused."""
    element = _Element()
    while True:
        end = element.end_in(scan.buf, scan.pos)
        if end >= 0:
            element.keep(scan.buf[scan.pos : end])
            scan.pos = end
            break
        element.keep(scan.buf[scan.pos :])
        scan.pos = len(scan.buf)
        if not scan.refill():
            break
    if element.size > RECORD_CAP:
        return ElementProblem(f"longer than the cap of {size_text(RECORD_CAP)}")
    if element.deepest > DEPTH_CAP:
        return ElementProblem(f"nested deeper than {DEPTH_CAP} levels")
    text = "".join(element.pieces)
    try:
        return json.loads(text, parse_int=_bounded_int)
    except _NumberTooLongError:
        return ElementProblem(f"a number longer than {_NUMBER_DIGITS} digits")
    except json.JSONDecodeError as exc:
        error = json.JSONDecodeError(exc.msg, exc.doc, exc.pos)
        if error.lineno == 1:
            error.colno += column
        error.lineno += line - 1
        raise json_syntax_error(scan.name, error, f"a JSON array of {what}") from exc
