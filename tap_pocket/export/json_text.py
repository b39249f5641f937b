"""An export's JSON files as text, with errors that name the line.

JSON files are read whole: an annotations part holds at most some thousands of entries
and an API dump is one saved response; the standard library has no streaming JSON
parser. Invalid UTF-8 (:func:`json_text`) and syntax errors (:func:`json_syntax_error`)
are reported with their line, and :func:`json_array_elements` decodes an array element
by element, so that a bad element is reported with the line it starts on.
"""

from __future__ import annotations

import json
import re
import typing as t

from tap_pocket.export.problems import ExportError

if t.TYPE_CHECKING:
    from collections.abc import Iterator

_JSON_WHITESPACE = re.compile(r"[ \t\n\r]*")


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


def line_of(text: str, offset: int) -> int:
    """The line of ``text`` that ``offset`` lies on, counted from 1."""
    return text.count("\n", 0, offset) + 1


def json_syntax_error(name: str, exc: json.JSONDecodeError, what: str) -> ExportError:
    """The error for the JSON file ``name`` that is not valid JSON; ``what`` it should be."""
    return ExportError(
        name,
        f"is not valid JSON ({exc.msg} at column {exc.colno}); expected {what}",
        line=exc.lineno,
    )


def _skip_json_whitespace(text: str, position: int) -> int:
    match = _JSON_WHITESPACE.match(text, position)
    return match.end() if match else position


def json_array_elements(name: str, text: str, what: str) -> Iterator[tuple[int, int, t.Any]]:
    """``(index, offset, value)`` for each element of the JSON array ``text``.

    ``text`` is the file ``name``, which should be an array of ``what``.
    """
    decoder = json.JSONDecoder()
    skip = _skip_json_whitespace
    position = skip(text, 0)
    if not text.startswith("[", position):
        raise ExportError(name, f"expected a JSON array of {what}", line=line_of(text, position))
    position = skip(text, position + 1)
    index = 0
    while not text.startswith("]", position):
        try:
            value, end = decoder.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            raise json_syntax_error(name, exc, f"a JSON array of {what}") from exc
        yield index, position, value
        index += 1
        position = skip(text, end)
        if text.startswith(",", position):
            position = skip(text, position + 1)
        elif not text.startswith("]", position):
            raise ExportError(
                name,
                "is not valid JSON (expected ',' or ']' in the array)",
                line=line_of(text, position),
            )
    if skip(text, position + 1) != len(text):
        raise ExportError(
            name,
            "is not valid JSON (text after the array's end)",
            line=line_of(text, position + 1),
        )
