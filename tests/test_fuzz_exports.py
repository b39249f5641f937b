"""Property and fuzz tests over the export readers: CSV parts, ril_export.html, annotations, dumps.

Generated valid exports round-trip exactly (zip, folder or single file). Mutated ones
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
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tap_pocket.export import ExportError, ExportReader, derive_highlight_id, derive_item_id
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


def read(path: Path, stream: str) -> Outcome:
    logger = logging.getLogger(f"tests.fuzz.{stream}")
    logger.propagate = False
    log = _Log()
    logger.addHandler(log)
    rows: list[dict[str, t.Any]] = []
    error = None
    try:
        reader = ExportReader(path, skip_bad_rows=True, logger=logger)
        rows.extend(getattr(reader, stream)())
    except ExportError as exc:  # anything else fails the test with its traceback
        error = exc
    finally:
        logger.removeHandler(log)
    reported = sum(
        int(match.group(1))
        for message in log.messages
        for match in [re.match(r"Skipped (\d+) (?:bad|duplicate) ", message)]
        if match
    )
    if error is not None:  # one line, naming the file
        assert "\n" not in str(error), str(error)
        assert str(error).startswith(error.file), str(error)
    return Outcome(rows, error, reported)


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


# Mutated exports: rows from the input only, nothing lost silently -----------------------


@budget(120)
@given(entries=links(max_size=8), data=st.data())
def test_mutated_csv_parts(entries: list[Link], data: st.DataObject) -> None:
    export = csv_export(entries)
    mutated, outcome = read_mutated(export, data, "part_000000.csv", "items")
    judge(export, mutated, outcome, resync=True)


@budget(80)
@given(entries=links(multiline=False, max_size=8), data=st.data())
def test_mutated_ril_export_html(entries: list[Link], data: st.DataObject) -> None:
    export = html_export(entries)
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
