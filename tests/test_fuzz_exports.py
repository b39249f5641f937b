"""Property and fuzz tests over the export readers: CSV parts, ril_export.html, annotations, dumps.

Generated valid exports round-trip exactly (zip, folder or single file), and so do valid
but unusual ones (issue #20): every quirk real exports hold or a tool may write, in both
formats, through every container (:func:`unusual_links`, :func:`unusual_csv`,
:func:`unusual_html`); their oracle is "every row loads exactly", with the same rows from
the CSV and the HTML form of one library. Mutated ones
(truncated, bytes flipped, quotes, NULs and newlines inserted, a line doubled, a field
over its cap, deep nesting) either load rows or fail with a one-line
:class:`~tap_pocket.export.ExportError`, never another exception, and the rows loaded
obey the rules of issue #13:

* never a row that is not in the input: every row is an original row, or one of a few
  (at most two per row the mutation touched) made from the mutated text;
* nothing lost silently: every original row missing from the output is accounted for by
  a bad row or duplicate the run reported (or by a row made from the mutated text);
* the CSV reader re-synchronises: rows the mutation did not touch are all loaded (when
  the run does not fail);
* a damaged zip member gives none of its rows.

Memory under a bomb is checked through the real CLI, its peak RSS measured
(:func:`tests.fixtures.export.hostile.run_measured`), on a few generated bombs.

The budget is small in CI (derandomized: the same examples each run). For a longer run::

    HYPOTHESIS_PROFILE=long .venv/bin/python -m pytest tests/test_fuzz_exports.py
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import tempfile
import typing as t
import zipfile
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tap_pocket.export import (
    ExportError,
    ExportReader,
    derive_highlight_id,
    derive_item_id,
    normalise_url,
)
from tap_pocket.export.csv_parts import csv_items
from tap_pocket.export.html_tokens import StartTag, Tokenizer
from tap_pocket.export.ids import unescape_entities
from tap_pocket.export.layout import ExportFile
from tap_pocket.export.problems import BadRows, RoundedTimes, SeenIds
from tap_pocket.export.utf8 import DECODE_ERRORS
from tap_pocket.timestamps import EARLIEST, LATEST, unix_to_iso
from tests.fixtures.export.hostile import (
    BLOCK,
    HEADER,
    BombMember,
    ril_export_html,
    run_measured,
    write_bomb_zip,
)
from tests.support import LONG_FUZZ, fuzz_settings

LONG = LONG_FUZZ
PROFILE = fuzz_settings(150)


def budget(examples: int) -> settings:
    """``examples`` in CI (derandomized), fifty times as many in the long profile."""
    return settings(PROFILE, max_examples=examples * (50 if LONG else 1), derandomize=not LONG)


# Generated exports ----------------------------------------------------------------------

TITLE_CHARACTERS = st.characters(
    blacklist_categories=("Cs", "Cc"), blacklist_characters="&\x00"
) | st.sampled_from(list(' ,"|\n\t'))
TAG = (
    st.text(st.characters(blacklist_categories=("Cs", "Cc", "Z"), blacklist_characters="|,&"))
    .map(str.strip)
    .filter(bool)
)


@dataclass(frozen=True)
class Link:
    """One saved link as an export holds it."""

    url: str
    title: str
    added: int
    tags: tuple[str, ...]
    archived: bool

    def row(self) -> dict[str, t.Any]:
        moment = unix_to_iso(self.added)
        return {
            "item_id": derive_item_id(self.url),
            "given_url": self.url,
            "given_title": self.title,
            "status": "archived" if self.archived else "unread",
            "time_added": moment,
            "time_updated": moment,
            "tags": sorted(set(self.tags)),
        }


@st.composite
def links(draw: st.DrawFn, *, multiline: bool = True, max_size: int = 12) -> list[Link]:
    count = draw(st.integers(0, max_size))
    title = st.text(TITLE_CHARACTERS if multiline else TITLE_CHARACTERS.filter(str.isprintable))
    return [
        Link(
            url=f"https://example.com/{n}/"
            + draw(st.from_regex(r"[a-z0-9/?=%_.~-]{0,12}", fullmatch=True)),
            title=draw(title),
            added=draw(st.integers(EARLIEST, LATEST - 1)),
            tags=tuple(draw(st.lists(TAG, max_size=4))),
            archived=draw(st.booleans()),
        )
        for n in range(count)
    ]


@dataclass
class Serialized:
    """An export file's bytes, and the byte span of each row's text in it."""

    data: bytes
    rows: list[dict[str, t.Any]]
    spans: list[tuple[int, int]]


def csv_export(entries: list[Link]) -> Serialized:
    data = io.BytesIO()
    data.write(HEADER.encode())
    spans = []
    for link in entries:
        text = io.StringIO()
        tags = "|".join(link.tags)
        status = "archive" if link.archived else "unread"
        csv.writer(text, lineterminator="\n").writerow(
            [link.title, link.url, link.added, tags, status]
        )
        start = data.tell()
        data.write(text.getvalue().encode())
        spans.append((start, data.tell()))
    return Serialized(data.getvalue(), [link.row() for link in entries], spans)


def html_export(entries: list[Link]) -> Serialized:
    unread = [(e.url, e.title, e.added, ",".join(e.tags)) for e in entries if not e.archived]
    archived = [(e.url, e.title, e.added, ",".join(e.tags)) for e in entries if e.archived]
    data = ril_export_html(unread, archived).encode()
    ordered = [e for e in entries if not e.archived] + [e for e in entries if e.archived]
    spans, at = [], 0
    for _ in ordered:
        start = data.index(b"<li><a ", at)
        at = data.index(b"\n", start) + 1
        spans.append((start, at))
    return Serialized(data, [e.row() for e in ordered], spans)


def annotations_export(entries: list[Link]) -> Serialized:
    lines, rows, spans = [], [], []
    at = 2  # after "[\n"
    for n, link in enumerate(entries):
        quote = f"quote {n}: {link.title}"
        entry = {
            "url": link.url,
            "title": link.title,
            "highlights": [{"quote": quote, "created_at": link.added}],
        }
        line = json.dumps(entry, ensure_ascii=n % 2 == 0)
        lines.append(line)
        spans.append((at, at + len(line.encode()) + 2))
        at += len(line.encode()) + 2
        rows.append(
            {
                "highlight_id": derive_highlight_id(link.url, quote, link.added),
                "item_id": derive_item_id(link.url),
                "url": link.url,
                "title": link.title,
                "quote": quote,
                "created_at": unix_to_iso(link.added),
            }
        )
    return Serialized(("[\n" + ",\n".join(lines) + "\n]").encode(), rows, spans)


def dump_export(entries: list[Link]) -> Serialized:
    listing = {}
    for n, link in enumerate(entries):
        listing[str(1000 + n)] = {
            "item_id": str(1000 + n),
            "given_url": link.url,
            "given_title": link.title,
            "status": "1" if link.archived else "0",
            "time_added": str(link.added),
            "time_updated": str(link.added),
            "tags": {tag: {"item_id": str(1000 + n), "tag": tag} for tag in link.tags},
        }
    body = ['{"status": 1, "list": {']
    spans, at = [], len(body[0].encode())
    for n, (key, entry) in enumerate(listing.items()):
        text = ("" if n == 0 else ",\n") + json.dumps(key) + ": " + json.dumps(entry)
        body.append(text)
        spans.append((at, at + len(text.encode())))
        at += len(text.encode())
    body.append("}}")
    rows = [
        {
            "item_id": key,
            "given_url": link.url,
            "given_title": link.title,
            "status": "archived" if link.archived else "unread",
        }
        for key, link in zip(listing, entries, strict=True)
    ]
    return Serialized("".join(body).encode(), rows, spans)


# Valid but unusual exports ---------------------------------------------------------------

#: What real URLs hold: spaces, commas, leaked ``&amp;``, a raw ``&``, non-ASCII, a line
#: break pasted from a share sheet, and what HTML allows raw in a quoted value.
URL_PIECE = st.sampled_from(
    [" ", ",", "&amp;", "&", "&copy=1", "&region=eu", "é", "日本", "\n", "\r\n", "\r", ">",
     "'", "<", '"', "%20", "?q=", "#top", "&#039;", "|"]
) | st.from_regex(r"[a-z0-9/?=%_.~-]{1,6}", fullmatch=True)  # fmt: skip
TITLE_PIECE = st.text(TITLE_CHARACTERS, max_size=8) | st.sampled_from(
    ["&amp;", "&#039;", "&quot;", "\r\n", "\r", '"', "'", ",", "<b>", "Überblick", "\u2028"]
)
#: Titles real exports hold: Pocket's legacy cut at 75 characters keeps its trailing space;
#: a page that did not load; the URL itself.
SPECIAL_TITLE = st.sampled_from(["cut", "problem", "url", "empty", "pieces"])


@dataclass(frozen=True)
class Unusual:
    """A saved link as a valid export may write it: values as stored, the time as written."""

    url: str
    title: str
    added: int
    written_time: str  # 1600000000, 1600000000.0, 1.6E+9 or 1600000000.25
    tags: tuple[str, ...]
    archived: bool

    @property
    def fractional(self) -> bool:
        return Decimal(self.written_time) != self.added

    def row(self) -> dict[str, t.Any]:
        moment = unix_to_iso(self.added)
        title = unescape_entities(self.title)
        return {
            "item_id": derive_item_id(self.url),
            "given_url": normalise_url(self.url),
            "given_title": title,
            "status": "archived" if self.archived else "unread",
            "time_added": moment,
            "time_updated": moment,
            "tags": sorted(set(self.tags)),
        }


@st.composite
def unusual_links(draw: st.DrawFn, *, max_size: int = 10) -> list[Unusual]:
    entries = []
    for n in range(draw(st.integers(1, max_size))):
        url = f"https://example.com/{n}/" + "".join(draw(st.lists(URL_PIECE, max_size=5)))
        special = draw(SPECIAL_TITLE)
        pieces = "".join(draw(st.lists(TITLE_PIECE, max_size=5)))
        title = {
            "cut": (pieces + " Longform essay on the history of reading " * 3)[:74] + " ",
            "problem": "Problem loading page",
            "url": url,
            "empty": "",
            "pieces": pieces,
        }[special]
        added = draw(st.integers(EARLIEST, LATEST - 1))
        written = draw(
            st.sampled_from(
                [str(added), f"{added}.0", f"{Decimal(added):E}", f"{added}.25", f" {added} "]
            )
        )
        entries.append(
            Unusual(
                url=url,
                title=title,
                added=added,
                written_time=written,
                tags=tuple(draw(st.lists(TAG, max_size=3))),
                archived=draw(st.booleans()),
            )
        )
    return entries


def unusual_csv(entries: list[Unusual], line_end: str) -> Serialized:
    """A CSV part of ``entries``, its lines ending with ``line_end`` (LF, CRLF or CR)."""
    data = io.BytesIO()
    data.write(HEADER.replace("\n", line_end).encode())
    spans = []
    for link in entries:
        status = "archive" if link.archived else "unread"
        fields = [link.title, link.url, link.written_time, "|".join(link.tags), status]
        start = data.tell()
        data.write((",".join(map(_csv_field, fields)) + line_end).encode())
        spans.append((start, data.tell()))
    return Serialized(data.getvalue(), [link.row() for link in entries], spans)


def _csv_field(value: str) -> str:
    """A field as RFC 4180 writes it: quoted when it holds a comma, a quote or a line break.

    (The csv module's writer leaves a CR unquoted when the line ends are LF.)
    """
    if any(char in value for char in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


#: Characters a writer may escape or not: HTML allows each raw in a double-quoted value,
#: and all but ``<`` in text.
_OPTIONAL_ESCAPES = {">": "&gt;", "'": "&#39;", "\n": "&#10;", "\r": "&#13;", "é": "&#233;"}


def _escaped(text: str, required: dict[str, str], raw: bool) -> str:
    """``text`` with ``&`` and ``required`` escaped, the optional ones too unless ``raw``."""
    text = text.replace("&", "&amp;")
    for char, reference in {**required, **({} if raw else _OPTIONAL_ESCAPES)}.items():
        text = text.replace(char, reference)
    return text


def unusual_html(entries: list[Unusual], raw: bool) -> Serialized:
    """A ril_export.html of ``entries``: with ``raw``, what HTML allows is written raw."""
    ordered = [e for e in entries if not e.archived] + [e for e in entries if e.archived]
    parts = ril_export_html([]).split("\t\t</ul>")
    head = parts[0]  # up to and with the Unread list's <ul>
    middle = "\t\t</ul>" + parts[1]  # to and with the Read Archive list's <ul>
    tail = "\t\t</ul>" + parts[2]
    data = bytearray(head.encode())
    spans = []
    for index, link in enumerate(ordered):
        if index == len(ordered) - sum(e.archived for e in entries):
            data += middle.encode()
        start = len(data)
        data += (
            f'<li><a href="{_escaped(link.url, {chr(34): "&quot;"}, raw)}" '
            f'time_added="{link.written_time}" '
            f'tags="{_escaped(",".join(link.tags), {chr(34): "&quot;"}, raw)}">'
            f"{_escaped(link.title, {'<': '&lt;'}, raw)}</a></li>\n"
        ).encode()
        spans.append((start, len(data)))
    if not any(e.archived for e in entries):
        data += middle.encode()
    data += tail.encode()
    return Serialized(bytes(data), [e.row() for e in ordered], spans)


def write_container(folder: Path, name: str, data: bytes, container: str) -> Path:
    """``data`` saved as ``name`` in a container a user may hand the tap.

    ``file`` (alone), ``zip``, ``folder`` (unzipped), ``nested folder`` (unzipped into a
    folder of its own) or ``zip with a folder`` (a re-zipped export folder).
    """
    if container == "file":
        path = folder / name
        path.write_bytes(data)
        return path
    if container in ("zip", "zip with a folder"):
        path = folder / "pocket.zip"
        prefix = "pocket/" if container == "zip with a folder" else ""
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(prefix + name, data)
            if prefix:
                archive.writestr("__MACOSX/pocket/._" + name, b"\0\5\26\7")
        return path
    export = folder / "pocket" / ("pocket" if container == "nested folder" else "")
    export.mkdir(parents=True, exist_ok=True)
    (export / name).write_bytes(data)
    return folder / "pocket"


CONTAINERS = ("file", "zip", "folder", "nested folder", "zip with a folder")


def read_in(container: str, name: str, data: bytes) -> Outcome:
    """The items of ``data`` saved as ``name`` in ``container`` (:func:`write_container`)."""
    with tempfile.TemporaryDirectory() as folder:
        return read(write_container(Path(folder), name, data, container), "items")


def assert_loads_exactly(export: Serialized, outcome: Outcome, entries: list[Unusual]) -> None:
    """The oracle of valid input: every row, exactly; one WARNING for fractional times."""
    assert outcome.error is None, outcome.error
    assert outcome.rows == export.rows
    assert outcome.reported == 0
    fractions = [m for m in outcome.messages if "fraction of a second" in m]
    assert len(fractions) == (1 if any(e.fractional for e in entries) else 0), fractions


# Running the reader and judging what it did ---------------------------------------------


class _Log(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@dataclass
class Outcome:
    rows: list[dict[str, t.Any]]
    error: ExportError | None
    reported: int  # bad rows and duplicates counted in the run's summaries
    messages: list[str]  # everything the run logged


def logged(
    name: str, rows_of: t.Callable[[logging.Logger], t.Iterable[dict[str, t.Any]]]
) -> tuple[list[dict[str, t.Any]], ExportError | None, list[str]]:
    """The rows ``rows_of`` a logger named ``name`` gives, its ExportError, what it logged."""
    logger = logging.getLogger(name)
    logger.propagate = False
    log = _Log()
    logger.addHandler(log)
    rows: list[dict[str, t.Any]] = []
    error = None
    try:
        rows.extend(rows_of(logger))
    except ExportError as exc:  # anything else fails the test with its traceback
        error = exc
    finally:
        logger.removeHandler(log)
    return rows, error, log.messages


def read(path: Path, stream: str) -> Outcome:
    rows, error, messages = logged(
        f"tests.fuzz.{stream}",
        lambda logger: getattr(ExportReader(path, skip_bad_rows=True, logger=logger), stream)(),
    )
    reported = sum(
        int(match.group(1))
        for message in messages
        for match in [re.match(r"Skipped (\d+) (?:bad|duplicate) ", message)]
        if match
    )
    if error is not None:  # one line, naming the file
        assert "\n" not in str(error), str(error)
        assert str(error).startswith(error.file), str(error)
    return Outcome(rows, error, reported, messages)


def _key(row: dict[str, t.Any], fields: t.Iterable[str]) -> str:
    return json.dumps({name: row.get(name) for name in fields}, sort_keys=True)


def judge(export: Serialized, mutated: Mutated, outcome: Outcome, *, resync: bool) -> None:
    """The rules of the module docstring, for the mutation ``mutated``."""
    fields = list(export.rows[0]) if export.rows else []
    original = {_key(row, fields): n for n, row in enumerate(export.rows)}
    start, end = mutated.span
    touched = {
        n for n, (a, b) in enumerate(export.spans) if a <= end and start <= b
    }  # spans meeting the mutation, or just beside it
    seen: set[int] = set()
    foreign = []
    for row in outcome.rows:
        n = original.get(_key(row, fields))
        if n is None:
            foreign.append(row)
        else:
            assert n not in seen, f"row {n} emitted twice"
            seen.add(n)
    assert len(foreign) <= 2 * len(touched), (foreign, touched)
    missing = set(range(len(export.rows))) - seen
    if mutated.kind == "truncate":  # the rows cut away are gone
        missing -= {n for n, (a, _) in enumerate(export.spans) if a >= start}
    if outcome.error is None:
        # A row the mutation touched may be lost with its neighbour (two rows joined into one
        # bad line), but never without a word; an untouched row only with a report of its own.
        assert not (missing & touched) or outcome.reported or foreign, (missing, touched)
        assert len(missing - touched) <= outcome.reported, (missing, touched, outcome.reported)
        if resync:
            assert missing <= touched, (missing, touched)
    else:  # rows wholly before the damage came out before the error
        before = {n for n, (_, b) in enumerate(export.spans) if b < start}
        if resync:
            assert before <= seen | touched, (before - seen, outcome.error)


MUTATIONS = ("truncate", "flip", "quote", "nul", "newline", "double a line", "huge", "deep")


@dataclass(frozen=True)
class Mutated:
    """Bytes mutated once: how, and the span of the original bytes the mutation touched."""

    data: bytes
    kind: str
    span: tuple[int, int]


@st.composite
def mutation(draw: st.DrawFn, data: bytes) -> Mutated:
    """``data`` mutated once."""
    kind = draw(st.sampled_from(MUTATIONS))
    mutated, span = draw(_mutated(data, kind))
    return Mutated(mutated, kind, span)


@st.composite
def _mutated(draw: st.DrawFn, data: bytes, kind: str) -> tuple[bytes, tuple[int, int]]:
    at = draw(st.integers(0, max(len(data) - 1, 0)))
    if kind == "truncate":
        return data[:at], (at, len(data))
    if kind == "flip":
        return data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1 :], (
            at,
            at + 1,
        )
    if kind == "double a line":
        begin = data.rfind(b"\n", 0, at) + 1
        stop = data.find(b"\n", at) + 1 or len(data)
        return data[:stop] + data[begin:stop] + data[stop:], (begin, stop)
    inserted = {
        "quote": b'"',
        "nul": b"\x00",
        "newline": b"\n",
        "huge": b"x" * ((1 << 20) + 7) + b"\n" + b"y" * ((4 << 20) + 9),
        "deep": b"[{" * 40_000,
    }[kind]
    return data[:at] + inserted + data[at:], (at, at)


def write(folder: Path, name: str, data: bytes, *, zipped: bool) -> Path:
    if zipped:
        path = folder / "pocket.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            if name.startswith("annotations/"):
                archive.writestr("part_000000.csv", HEADER)
            archive.writestr(name, data)
        return path
    target = folder / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    if name.startswith("annotations/"):
        (folder / "part_000000.csv").write_text(HEADER, encoding="utf-8")
        return folder
    return target


def read_mutated(
    export: Serialized, data: st.DataObject, name: str, stream: str
) -> tuple[Mutated, Outcome]:
    """``export`` mutated once (drawn from ``data``), saved as ``name`` and read."""
    mutated = data.draw(mutation(export.data))
    with tempfile.TemporaryDirectory() as folder:
        return mutated, read(write(Path(folder), name, mutated.data, zipped=False), stream)


# Valid exports round-trip exactly -------------------------------------------------------


@budget(40)
@given(entries=links(), container=st.sampled_from(["file", "folder", "zip"]))
def test_valid_csv_exports_round_trip(entries: list[Link], container: str) -> None:
    export = csv_export(entries)
    with tempfile.TemporaryDirectory() as folder:
        path = write(Path(folder), "part_000000.csv", export.data, zipped=container == "zip")
        if container == "folder":
            path = path.parent
        outcome = read(path, "items")
    assert outcome.error is None, outcome.error
    assert outcome.rows == export.rows
    assert outcome.reported == 0


@budget(30)
@given(entries=links(multiline=False), zipped=st.booleans())
def test_valid_html_exports_round_trip(entries: list[Link], zipped: bool) -> None:
    export = html_export(entries)
    with tempfile.TemporaryDirectory() as folder:
        outcome = read(write(Path(folder), "ril_export.html", export.data, zipped=zipped), "items")
    assert outcome.error is None, outcome.error
    assert outcome.rows == export.rows


@budget(30)
@given(entries=links(), zipped=st.booleans())
def test_valid_annotations_round_trip(entries: list[Link], zipped: bool) -> None:
    export = annotations_export(entries)
    with tempfile.TemporaryDirectory() as folder:
        name = "annotations/part_000000.json"
        outcome = read(write(Path(folder), name, export.data, zipped=zipped), "highlights")
    assert outcome.error is None, outcome.error
    assert outcome.rows == export.rows


@budget(25)
@given(entries=links())
def test_valid_api_dumps_round_trip(entries: list[Link]) -> None:
    export = dump_export(entries)
    with tempfile.TemporaryDirectory() as folder:
        outcome = read(write(Path(folder), "dump.json", export.data, zipped=False), "items")
    assert outcome.error is None, outcome.error
    fields = ["item_id", "given_url", "given_title", "status"]
    assert [{name: row[name] for name in fields} for row in outcome.rows] == export.rows


#: The forms a valid but unusual export is written in: CSV with each kind of line end, and
#: HTML with what HTML allows written raw, or escaped.
UNUSUAL_FORMS = {
    "csv, LF": lambda entries: ("part_000000.csv", unusual_csv(entries, "\n")),
    "csv, CRLF": lambda entries: ("part_000000.csv", unusual_csv(entries, "\r\n")),
    "csv, CR": lambda entries: ("part_000000.csv", unusual_csv(entries, "\r")),
    "html, raw": lambda entries: ("ril_export.html", unusual_html(entries, raw=True)),
    "html, escaped": lambda entries: ("ril_export.html", unusual_html(entries, raw=False)),
}


@budget(80)
@given(
    entries=unusual_links(),
    form=st.sampled_from(sorted(UNUSUAL_FORMS)),
    container=st.sampled_from(CONTAINERS),
)
def test_valid_but_unusual_exports_load_exactly(
    entries: list[Unusual], form: str, container: str
) -> None:
    name, export = UNUSUAL_FORMS[form](entries)
    assert_loads_exactly(export, read_in(container, name, export.data), entries)


@budget(20)
@given(entries=unusual_links(), raw=st.booleans())
def test_the_csv_and_html_exports_of_one_library_give_the_same_rows(
    entries: list[Unusual], raw: bool
) -> None:
    from_html = read_in("file", "ril_export.html", unusual_html(entries, raw).data)
    ordered = sorted(entries, key=lambda e: e.archived)  # the HTML's list order
    from_csv = read_in("file", "part_000000.csv", unusual_csv(ordered, "\n").data)
    assert from_html.error is None, from_html.error
    assert from_html.rows == from_csv.rows


def read_csv_part(path: Path, *, through_the_csv_module: bool) -> Outcome:
    """The rows of one CSV part, and everything logged.

    With ``through_the_csv_module``, every line goes to the csv module (as once invalid
    UTF-8 has been met), not only those with a quote.
    """

    def open_binary() -> t.IO[bytes]:
        if through_the_csv_module:
            DECODE_ERRORS.count += 1  # as if an invalid byte had just been read
        return path.open("rb")

    bad: list[BadRows] = []

    def rows_of(logger: logging.Logger) -> t.Iterator[dict[str, t.Any]]:
        bad.append(BadRows(logger, "items", skip=True))
        file = ExportFile(str(path), open_binary)
        return csv_items(file, SeenIds(logger, "items"), bad[0], RoundedTimes(logger))

    rows, error, messages = logged("tests.fuzz.csv", rows_of)
    return Outcome(rows, error, bad[0].count, messages)


@budget(60)
@given(
    entries=unusual_links(max_size=8),
    line_end=st.sampled_from(["\n", "\r\n", "\r"]),
    mutate=st.booleans(),
    data=st.data(),
)
def test_lines_without_a_quote_are_split_as_the_csv_module_reads_them(
    entries: list[Unusual], line_end: str, mutate: bool, data: st.DataObject
) -> None:
    """A line without a quote is split by the reader, not parsed by the csv module.

    The same rows, problems and messages as when the csv module reads every line, on
    intact or damaged parts.
    """
    export = unusual_csv(entries, line_end).data
    if mutate:
        export = data.draw(mutation(export)).data
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "part_000000.csv"
        path.write_bytes(export)
        split = read_csv_part(path, through_the_csv_module=False)
        parsed = read_csv_part(path, through_the_csv_module=True)
    assert (split.rows, split.reported, split.messages) == (
        parsed.rows,
        parsed.reported,
        parsed.messages,
    )
    assert str(split.error) == str(parsed.error)


#: What tags are made of, for :func:`test_a_plain_tag_is_read_as_the_tag_states_read_it`.
TAG_PIECE = st.sampled_from(
    [" ", "\n", "\t", "\r", "=", '"', "'", "/", ">", "<", "`", "&amp;", "href", "HREF",
     "tags", "time_added", "x", "é", "1600000000", ' href="a>b"', " tags=''", " x=1"]
)  # fmt: skip


@budget(300)
@given(
    opener=st.sampled_from(["<a", "</a", "<A", "<li"]),
    pieces=st.lists(TAG_PIECE, max_size=16),
)
def test_a_plain_tag_is_read_as_the_tag_states_read_it(opener: str, pieces: list[str]) -> None:
    """The tokenizer's one-regex reading of a plain tag equals its states' reading."""
    text = opener + "".join(pieces) + ">"
    plain = Tokenizer()._plain_tag(text, 0)  # noqa: SLF001 - the two readings compared
    if plain is not None:
        name_at = 2 if opener.startswith("</") else 1
        assert plain == Tokenizer()._tag(text, 0, name_at)  # noqa: SLF001
        token = plain[1]
        assert not isinstance(token, StartTag) or token.error is None


# Mutated exports: rows from the input only, nothing lost silently -----------------------


@budget(120)
@given(entries=links(max_size=8), data=st.data())
def test_mutated_csv_parts(entries: list[Link], data: st.DataObject) -> None:
    export = csv_export(entries)
    mutated, outcome = read_mutated(export, data, "part_000000.csv", "items")
    judge(export, mutated, outcome, resync=True)


@budget(80)
@given(entries=unusual_links(max_size=8), raw=st.booleans(), data=st.data())
def test_mutated_ril_export_html(entries: list[Unusual], raw: bool, data: st.DataObject) -> None:
    """Damage in an export of valid but unusual links (line breaks, ``>``, quotes...)."""
    export = unusual_html(entries, raw)
    mutated, outcome = read_mutated(export, data, "ril_export.html", "items")
    judge(export, mutated, outcome, resync=False)
    if mutated.kind == "truncate" and mutated.span[0] < len(export.data.rstrip()):
        assert outcome.error is not None  # "cut short", or "not an export" if cut early
        cut = mutated.data
        looks_like_html = b"<h1>Read Archive</h1>" in cut or b"time_added=" in cut
        assert not looks_like_html or "it was cut short" in str(outcome.error)


@budget(80)
@given(entries=links(max_size=8), data=st.data())
def test_mutated_annotations(entries: list[Link], data: st.DataObject) -> None:
    export = annotations_export(entries)
    mutated, outcome = read_mutated(export, data, "annotations/part_000000.json", "highlights")
    judge(export, mutated, outcome, resync=False)


@budget(60)
@given(entries=links(max_size=6), data=st.data())
def test_mutated_api_dumps(entries: list[Link], data: st.DataObject) -> None:
    export = dump_export(entries)
    mutated, outcome = read_mutated(export, data, "dump.json", "items")
    fields = ["item_id", "given_url", "given_title", "status"]
    outcome.rows = [{name: row.get(name) for name in fields} for row in outcome.rows]
    judge(export, mutated, outcome, resync=False)


@budget(60)
@given(
    entries=links(max_size=30),
    kind=st.sampled_from(["part_000001.csv", "ril_export.html"]),
    data=st.data(),
)
def test_a_mutated_zip_gives_no_row_of_a_damaged_member(
    entries: list[Link], kind: str, data: st.DataObject
) -> None:
    export = (
        csv_export(entries)
        if kind.endswith(".csv")
        else html_export([e for e in entries if e.title.isprintable()])
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "pocket.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(kind, export.data)
        raw = path.read_bytes()
        at = data.draw(st.integers(0, len(raw) - 1))
        path.write_bytes(
            raw[:at] + bytes([raw[at] ^ data.draw(st.integers(1, 255))]) + raw[at + 1 :]
        )
        outcome = read(path, "items")
    fields = list(export.rows[0]) if export.rows else []
    originals = {_key(row, fields) for row in export.rows}
    assert all(_key(row, fields) in originals for row in outcome.rows)  # never garbage
    if outcome.error is None and outcome.rows != export.rows:
        assert outcome.reported or not outcome.rows, "rows lost without a word"


# Bombs: bounded memory through the real CLI ---------------------------------------------


@pytest.mark.slow
@settings(PROFILE, max_examples=10 if LONG else 3, derandomize=not LONG)
@given(
    kind=st.sampled_from(["csv line", "csv field", "annotations", "html text", "html tag"]),
    blocks=st.integers(2, 8),  # 32-128 MiB expanded
)
def test_bombs_stay_under_the_memory_cap(kind: str, blocks: int) -> None:
    good = "Good,https://example.com/good,1600000000,,unread\n"
    members = {
        "csv line": [BombMember("part_000000.csv", (HEADER + good).encode(), b"z" * BLOCK, blocks)],
        "csv field": [
            BombMember(
                "part_000000.csv",
                (HEADER + good + '"').encode(),
                (b"q" * 1023 + b"\n") * (BLOCK // 1024),
                blocks,
            )
        ],
        "annotations": [
            BombMember("part_000000.csv", (HEADER + good).encode()),
            BombMember("annotations/part_000000.json", b'[{"url": "', b"u" * BLOCK, blocks, b'"}]'),
        ],
        "html text": [
            BombMember(
                "ril_export.html",
                ril_export_html([]).split("</ul>")[0].encode() + b'<li><a href="x">',
                b"t" * BLOCK,
                blocks,
            )
        ],
        "html tag": [
            BombMember("ril_export.html", b'<h1>Unread</h1><ul><li><a href="', b"h" * BLOCK, blocks)
        ],
    }[kind]
    with tempfile.TemporaryDirectory() as folder:
        path = write_bomb_zip(Path(folder) / "pocket.zip", members)
        result = run_measured({"export_path": str(path), "skip_bad_rows": True}, Path(folder))
        # The output is read from the run's folder: before the folder goes.
        assert "Traceback" not in result.stderr, result.stderr[-3000:]
        assert result.peak_rss_mb < 300, (kind, blocks, result.peak_rss_mb)
        assert result.longest_stdout_line < 100_000
        titles = [row["given_title"] for row in result.records()]
    assert titles in ([], ["Good"]), titles
