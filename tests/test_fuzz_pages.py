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
import typing as t

import jsonschema
import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pocket_emulator import generate_account
from pocket_emulator.account import LIVE_STATUSES, ItemQuery
from tap_pocket.api.convert import ENTRY_FIELDS, entry_row
from tap_pocket.api.page import BadEntry, NotAPageError, decode_page
from tap_pocket.rows import HIGHLIGHT_SCHEMA, ITEM_SCHEMA, to_record

from .support import fuzz_settings
from .test_records import SAMPLES

PROFILE = fuzz_settings(600)

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


def expected_ids(content: bytes) -> list[str | None] | None:
    """Per entry of the body's list, in order, its id, None for a bad row; None: no page.

    A page is a JSON object whose ``list`` is an object (keyed by id) or an array, in
    UTF-8 throughout. Read here by the standard library, independently of the tap: an
    entry is an item when it is an object whose ``item_id`` (or, keyed, its key) is text
    or an integer. An entry holding a lone UTF-16 surrogate (an escaped D800, which the tap's
    decoder refuses and Python's accepts) may go either way: :data:`EITHER`.
    """
    try:
        shape = _SHAPE.decode(content)
    except (msgspec.DecodeError, RecursionError):
        return None
    if shape.listing is msgspec.UNSET:
        return None
    try:
        listing = json.loads(bytes(shape.listing).decode("utf-8"), parse_int=_int_or_digits)
    except (ValueError, RecursionError):
        return None
    if isinstance(listing, dict):
        pairs: list[tuple[str | None, t.Any]] = list(listing.items())
    elif isinstance(listing, list):
        pairs = [(None, entry) for entry in listing]
    else:
        return None
    return [_expected_id(key, entry) for key, entry in pairs]


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
    if isinstance(value, str):
        return any("\ud800" <= char <= "\udfff" for char in value)
    if isinstance(value, dict):
        return any(_has_surrogate(k) or _has_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_surrogate(item) for item in value)
    return False


def check_page(content: bytes) -> None:
    """The property, for one body."""
    expected = expected_ids(content)
    try:
        page = decode_page(content)
    except NotAPageError:
        assert expected is None or EITHER in expected, f"a page was refused: {content[:300]!r}"
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
        expected = expected_ids(content)
        assert expected is not None
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
