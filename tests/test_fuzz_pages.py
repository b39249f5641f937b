"""Property and fuzz tests over ``/v3/get`` pages: ``decode_page`` and the row builders.

Any bytes either decode to a :class:`~tap_pocket.api.page.Page`, or raise
:class:`~tap_pocket.api.page.NotAPageError`; never another exception. A page gives, for
each entry of its list in order, a row whose item_id is the entry's (or its key's), valid
against the stream's schema, or a :class:`~tap_pocket.api.page.BadEntry` when the entry
is not an item (not an object, no id that is text or an integer): exactly one of them,
whatever its neighbours hold. Inputs are arbitrary bytes, generated JSON pages, real
samples (tests/fixtures/api) and emulator pages, each also mutated (truncated, bytes
flipped, quotes and NULs inserted, values replaced, deep nesting).

The budget is small in CI. For a longer run::

    HYPOTHESIS_PROFILE=long .venv/bin/python -m pytest -p no:cacheprovider tests/test_fuzz_pages.py
"""

from __future__ import annotations

import json
import tracemalloc
import typing as t

import jsonschema
import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pocket_emulator import generate_account
from pocket_emulator.account import LIVE_STATUSES, ItemQuery
from tap_pocket.api import page, split
from tap_pocket.api.convert import ENTRY_FIELDS, entry_row
from tap_pocket.api.page import BadEntry, NotAPageError, decode_page
from tap_pocket.rows import HIGHLIGHT_SCHEMA, ITEM_SCHEMA, to_record

from .support import fuzz_settings
from .test_records import SAMPLES

PROFILE = fuzz_settings(200)  # per test in CI: 20,000 with HYPOTHESIS_PROFILE=long

#: A failing example is printed whole; real and emulator pages make long ones.
LARGE_REPR = pytest.mark.filterwarnings("ignore:Generating overly large repr")
OBSERVED_AT = "2020-03-28T11:00:08+00:00"
ITEM_VALIDATOR = jsonschema.Draft7Validator(ITEM_SCHEMA)
HIGHLIGHT_VALIDATOR = jsonschema.Draft7Validator(HIGHLIGHT_SCHEMA)
#: What an entry the oracle cannot judge may give: a row or a bad row, nothing else.
EITHER = "row or bad row"


class _Shape(msgspec.Struct):
    """The members of a body the tap reads; others are skipped, unchecked, as it does."""

    listing: msgspec.Raw | msgspec.UnsetType = msgspec.field(name="list", default=msgspec.UNSET)
    total: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET


_SHAPE = msgspec.json.Decoder(_Shape)


def _int_or_digits(digits: str) -> int | str:
    try:
        return int(digits)
    except ValueError:  # over Python's 4300 digits: the id is the number's text
        return digits


def expected_ids(content: bytes) -> tuple[list[str | None] | None, bool]:
    """Per entry of the body's list, in order, its id, None for a bad row; None: no page.

    A page is a JSON object whose ``list`` is an object (keyed by id) or an array. Read
    here by the standard library, independently of the tap: an entry is an item when it
    is an object whose ``item_id`` (or, keyed, its key) is text or an integer. An entry
    holding a lone UTF-16 surrogate (an escaped D800, which the tap's decoder refuses and
    Python's accepts) may go either way: :data:`EITHER`.

    The second value says whether the list is UTF-8 throughout. When it is not, the page
    may be refused; if it is read, the invalid bytes lay where the tap skips (a member it
    does not read), and the ids are those of the list read leniently.
    """
    try:
        shape = _SHAPE.decode(content)
    except (msgspec.DecodeError, RecursionError):
        return None, True
    if shape.listing is msgspec.UNSET:
        return None, True
    raw = bytes(shape.listing)
    try:
        text, strict = raw.decode("utf-8"), True
    except UnicodeDecodeError:
        text, strict = raw.decode("utf-8", errors="replace"), False
    try:
        listing = json.loads(text, parse_int=_int_or_digits)
    except (ValueError, RecursionError):
        return None, strict
    if isinstance(listing, dict):
        pairs: list[tuple[str | None, t.Any]] = list(listing.items())
    elif isinstance(listing, list):
        pairs = [(None, entry) for entry in listing]
    else:
        return None, strict
    return [_expected_id(key, entry) for key, entry in pairs], strict


def _expected_id(key: str | None, entry: t.Any) -> str | None:
    if _has_surrogate(entry) or (key is not None and _has_surrogate(key)):
        return EITHER
    if not isinstance(entry, dict):
        return None
    item_id = entry.get("item_id", key)
    if isinstance(item_id, bool) or not isinstance(item_id, (str, int)):
        return None
    return str(item_id)


def _has_surrogate(value: t.Any) -> bool:
    # A loop, not recursion: the oracle must read any depth json.loads accepted, and
    # Python 3.12+ counts a generator's frame against the recursion limit too.
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            if any("\ud800" <= char <= "\udfff" for char in node):
                return True
        elif isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


def check_page(content: bytes) -> None:
    """The property, for one body."""
    expected, strict = expected_ids(content)
    try:
        page = decode_page(content)
    except NotAPageError:
        refusable = expected is None or EITHER in expected or not strict
        assert refusable, f"a page was refused: {content[:300]!r}"
        return
    assert expected is not None, f"not a page, yet decoded: {content[:300]!r}"
    assert page.count == len(expected)
    got: list[str | None] = []
    for part in page.parts(with_highlights=True):
        if isinstance(part, BadEntry):
            assert part.offset == page.offset
            got.append(None)
            continue
        rows = [to_record(entry_row(entry, observed_at=OBSERVED_AT)) for entry in part.entries]
        for row in rows:
            ITEM_VALIDATOR.validate(row)
            assert len(set(row["tags"] or [])) == len(row["tags"] or [])
        got += [row["item_id"] for row in rows]
        for highlight in part.highlights:
            HIGHLIGHT_VALIDATOR.validate(to_record(highlight))
            assert highlight.item_id in {row["item_id"] for row in rows}
    assert len(got) == len(expected)
    for found, wanted in zip(got, expected, strict=True):
        assert wanted in (EITHER, found), (got, expected)


# Seeds: real samples and emulator pages -----------------------------------------------------


def _real_pages() -> list[bytes]:
    pages = []
    for path in sorted(SAMPLES.glob("*.json")):
        body = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(body, list):
            body = {"list": body}
        elif "list" not in body:
            body = {"list": {str(body.get("item_id", "1")): body}}
        pages.append(json.dumps(body).encode())
    return pages


def _emulator_pages() -> list[bytes]:
    from pocket_emulator.v3_get import GetRequest, get_body

    account = generate_account(40, seed=11)
    query = ItemQuery(statuses=LIVE_STATUSES)
    return [
        get_body(
            account,
            GetRequest(query=query, offset=offset, count=15, complete=True, annotations=True),
            now=1_700_000_000,
        )
        for offset in (0, 15, 30, 45)
    ]


SEEDS = _real_pages() + _emulator_pages()


def test_every_seed_is_a_page_with_its_ids() -> None:
    assert len(SEEDS) >= 12
    for content in SEEDS:
        expected, strict = expected_ids(content)
        assert expected is not None
        assert strict
        assert None not in expected
        check_page(content)


# Mutations --------------------------------------------------------------------------------


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A seed with a few byte-level mutations."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["truncate", "flip", "insert", "delete", "nest"]))
        position = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "truncate":
            del data[position:]
        elif kind == "flip" and data:
            data[position] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[position:position] = draw(
                st.sampled_from([b'"', b"\x00", b",", b"{", b"]", b"\\", b"\xff", b"1e400"])
            )
        elif kind == "delete":
            del data[position : position + draw(st.integers(1, 40))]
        else:
            depth = draw(st.integers(1, 300))
            data[position:position] = b"[" * depth + b"]" * depth
    return bytes(data)


JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
# Every entry field the rows are read from (ENTRY_FIELDS ends with the annotations).
FIELDS = st.sampled_from(ENTRY_FIELDS)


@st.composite
def replaced(draw: st.DrawFn) -> bytes:
    """A seed page with some entry fields replaced by arbitrary JSON values."""
    body = json.loads(draw(st.sampled_from(SEEDS)))
    listing = body["list"]
    entries = list(listing.values()) if isinstance(listing, dict) else listing
    if entries:
        for _ in range(draw(st.integers(1, 6))):
            entry = draw(st.sampled_from(entries))
            entry[draw(FIELDS)] = draw(JSON_VALUES)
    if draw(st.booleans()):
        body["total"] = draw(JSON_VALUES)
    return json.dumps(body).encode()


@st.composite
def generated(draw: st.DrawFn) -> bytes:
    """A page built from scratch: list form, keyed form, odd entries."""
    entries = draw(
        st.lists(
            st.dictionaries(FIELDS, JSON_VALUES, max_size=8) | JSON_VALUES,
            max_size=6,
        )
    )
    listing: t.Any = entries
    if draw(st.booleans()):
        listing = {draw(st.text(max_size=6)): entry for entry in entries}
    body: t.Any = {"status": 1, "list": listing}
    if draw(st.booleans()):
        body = draw(JSON_VALUES)
    return json.dumps(body).encode()


@LARGE_REPR
@settings(parent=PROFILE)
@given(st.binary(max_size=2000))
def test_any_bytes(content: bytes) -> None:
    check_page(content)


@LARGE_REPR
@settings(parent=PROFILE)
@given(mutated())
def test_mutated_real_and_emulator_pages(content: bytes) -> None:
    check_page(content)


@LARGE_REPR
@settings(parent=PROFILE)
@given(replaced())
def test_pages_with_odd_values(content: bytes) -> None:
    check_page(content)


@LARGE_REPR
@settings(parent=PROFILE)
@given(generated())
def test_generated_pages(content: bytes) -> None:
    check_page(content)


def test_deep_nesting_is_not_a_page_and_no_recursion_error() -> None:
    for depth in (1_000, 100_000):
        nested = b"[" * depth + b"]" * depth
        check_page(b'{"list": ' + nested + b"}")
        check_page(b'{"list": {"1": {"item_id": "1", "tags": ' + nested + b"}}}")


# The ways a page is read agree ---------------------------------------------------------------


def read_all(content: bytes) -> list[t.Any]:
    """Every entry of a page as its row, or the BadEntry in its place."""
    out: list[t.Any] = []
    for part in decode_page(content).parts(with_highlights=True):
        if isinstance(part, BadEntry):
            out.append(part)
        else:
            out += [to_record(entry_row(entry)) for entry in part.entries]
            out += [to_record(highlight) for highlight in part.highlights]
    return out


def read_three_ways(content: bytes) -> list[list[t.Any] | str]:
    """The page read whole, cut in C, and cut in runs (or why it is not a page, each time)."""
    results: list[list[t.Any] | str] = []
    for decoded_max, indexed in ((page.DECODED_MAX, split.INDEXED_OBJECTS), (0, 10**9), (0, 0)):
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(page, "DECODED_MAX", decoded_max)
            patch.setattr(split, "INDEXED_OBJECTS", indexed)
            patch.setattr(split, "SEGMENT_ENTRIES", 2)  # several runs even in a small page
            try:
                results.append(read_all(content))
            except NotAPageError:
                results.append("not a page")
    return results


@LARGE_REPR
@settings(parent=PROFILE)
@given(generated() | replaced())
def test_a_page_reads_the_same_whole_or_cut(content: bytes) -> None:
    whole, indexed, runs = read_three_ways(content)
    assert indexed == runs
    if whole != "not a page":  # decoded whole: no entry needed reading on its own
        assert whole == indexed


def test_seed_pages_read_the_same_whole_or_cut() -> None:
    for content in SEEDS:
        whole, indexed, runs = read_three_ways(content)
        assert whole == indexed == runs
        assert whole != "not a page"


# Hostile values: one bad row at most, never a failed page ------------------------------------

HUGE = b"9" * 5000


def hostile_page() -> bytes:
    """Seven entries: huge keys and numbers in every number field, odd ids, non-objects."""
    fields = b",".join(
        b'"%s":%s' % (name.encode(), HUGE)
        for name in ("sort_id", "word_count", "time_to_read", "listen_duration_estimate")
    )
    times = b",".join(
        b'"%s":"%s"' % (name.encode(), HUGE)
        for name in ("time_added", "time_updated", "time_read", "time_favorited", "favorite")
    )
    keyed = b'{"%s":{"name":"a"},"2":{"name":"b"}}' % HUGE
    entries = [
        b'"1":{"item_id":"1","authors":%s,"images":%s,"videos":%s}' % (keyed, keyed, keyed),
        b'"2":{"item_id":"2",%s,%s,"resolved_id":%s,"total":%s}' % (fields, times, HUGE, HUGE),
        b'"3":{"item_id":1.5}',
        b'"4":{"item_id":%s}' % HUGE,
        b'"5":[1,2]',
        b'"6":{"item_id":null}',
        b'"7":{"given_title":"kept","annotations":[{"annotation_id":%s,"version":%s}]}'
        % (HUGE, HUGE),
    ]
    return b'{"list":{' + b",".join(entries) + b'},"total":%s,"since":%s}' % (HUGE, HUGE)


def test_huge_numbers_and_odd_ids_are_one_bad_row_each_or_read() -> None:
    for result in read_three_ways(hostile_page()):
        assert result != "not a page"
        assert isinstance(result, list)
        rows = {row["item_id"]: row for row in result if isinstance(row, dict) and "status" in row}
        bad = [entry for entry in result if isinstance(entry, BadEntry)]
        assert [(entry.number, entry.key) for entry in bad] == [(3, "3"), (5, "5"), (6, "6")]
        assert "item_id 1.5 is not text or an integer" in str(bad[0])
        assert set(rows) == {"1", "2", "9" * 5000, "7"}
        # Keys past int()'s 4300 digits sort after the shorter ones, as numbers do.
        assert [author["name"] for author in rows["1"]["authors"]] == ["b", "a"]
        assert [image["image_id"] for image in rows["1"]["images"]] == [None, None]
        for column in ("sort_id", "word_count", "time_to_read", "time_added", "favorite"):
            assert rows["2"][column] is None
        assert rows["2"]["resolved_id"] == "9" * 5000
        assert rows["7"]["given_title"] == "kept"


# The bound on what decoding a page whole builds -------------------------------------------------


def _shapes() -> dict[str, bytes]:
    n = 20_000

    def one(field: bytes, inner: bytes) -> bytes:
        return b'{"list":[{"item_id":"1","' + field + b'":' + inner + b"}]}"

    def joined(parts: t.Iterable[bytes], opening: bytes = b"[", closing: bytes = b"]") -> bytes:
        return opening + b",".join(parts) + closing

    return {
        "tiny keyed entries": b'{"list":'
        + joined((b'"%d":{}' % i for i in range(n)), b"{", b"}")
        + b"}",
        "tiny listed entries": b'{"list":'
        + joined(b'{"item_id":"%d"}' % i for i in range(n))
        + b"}",
        "lists in annotations": one(b"annotations", joined([b"[]"] * n)),
        "objects in annotations": one(b"annotations", joined([b'{"a":1}'] * n)),
        "distinct keys in annotations": one(
            b"annotations", joined((b'"k%d":"v%d"' % (i, i) for i in range(n)), b"{", b"}")
        ),
        "distinct tags": one(b"tags", joined(b'"t%d"' % i for i in range(n))),
        "nested lists": one(b"annotations", joined([b"[[[]]]"] * n)),
        "one astral character": one(
            b"annotations", joined([b'"' + b"x" * 1000 + "\U0001f600".encode() + b'"'] * 200)
        ),
        "emulator page": _emulator_pages()[0],
    }


@pytest.mark.parametrize("name", list(_shapes()))
def test_decoding_whole_builds_less_than_the_bound(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a page decoded whole holds (all its shapes valid for the typed decoder)."""
    content = _shapes()[name]
    monkeypatch.setattr(page, "DECODED_MAX", 1 << 40)
    tracemalloc.start()
    try:
        decoded = decode_page(content)
        used, _peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert decoded.count >= 1
    assert used <= page.decoded_size_bound(content), name
