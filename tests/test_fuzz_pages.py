"""Property and fuzz tests over ``/v3/get`` pages: ``decode_page`` and the row builders.

Any bytes either decode to a :class:`~tap_pocket.api.page.Page` whose rows are valid
against the streams' schemas and whose item_ids are exactly those of the body's list, or
raise :class:`~tap_pocket.api.page.NotAPageError`; never another exception. Inputs are
arbitrary bytes, generated JSON pages, real samples (tests/fixtures/api) and emulator
pages, each also mutated (truncated, bytes flipped, quotes and NULs inserted, values
replaced, deep nesting).

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
from tap_pocket.api.page import NotAPageError, decode_page
from tap_pocket.rows import HIGHLIGHT_SCHEMA, ITEM_SCHEMA, to_record

from .support import fuzz_settings
from .test_records import SAMPLES

PROFILE = fuzz_settings(200)  # per test in CI: 20,000 with HYPOTHESIS_PROFILE=long

#: A failing example is printed whole; real and emulator pages make long ones.
LARGE_REPR = pytest.mark.filterwarnings("ignore:Generating overly large repr")
OBSERVED_AT = "2020-03-28T11:00:08+00:00"
ITEM_VALIDATOR = jsonschema.Draft7Validator(ITEM_SCHEMA)
HIGHLIGHT_VALIDATOR = jsonschema.Draft7Validator(HIGHLIGHT_SCHEMA)


class _Shape(msgspec.Struct):
    """The members of a body the tap reads; others are skipped, unchecked, as it does."""

    listing: msgspec.Raw | msgspec.UnsetType = msgspec.field(name="list", default=msgspec.UNSET)
    total: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET


_SHAPE = msgspec.json.Decoder(_Shape)


def expected_ids(content: bytes) -> list[str] | None:
    """The item_ids of a body's list as the rules say, or None: it is not a page.

    A page is a JSON object with a ``list`` object (keyed by id) or array, every entry an
    object whose ``item_id`` (or, keyed, its key) is text or an integer, and a valid
    ``total`` if any. Members the tap does not read are not checked (a stray invalid byte
    or an out-of-range number there does not make the list unreadable).
    """
    try:
        shape = _SHAPE.decode(content)
        if shape.listing is msgspec.UNSET:
            return None
        listing = msgspec.json.decode(shape.listing)
        if shape.total is not msgspec.UNSET:
            msgspec.json.decode(shape.total)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return None
    return ids_of(listing)


def lenient_ids(content: bytes) -> list[str] | None:
    """:func:`expected_ids` for a body whose only flaws lie where the typed decoder skips.

    It skips unknown members inside entries too (an invalid byte in a key, a number out
    of range), unchecked: the body read leniently (invalid UTF-8 replaced, any number
    taken) must then give exactly the ids decoded.
    """
    try:
        body = json.loads(content.decode("utf-8", errors="replace"))
    except (ValueError, RecursionError):
        return None
    return ids_of(body.get("list")) if isinstance(body, dict) else None


def ids_of(listing: t.Any) -> list[str] | None:
    """The ids of a decoded ``list``, or None if it is not one (see expected_ids)."""
    if isinstance(listing, dict):
        pairs: list[tuple[str | None, t.Any]] = list(listing.items())
    elif isinstance(listing, list):
        pairs = [(None, entry) for entry in listing]
    else:
        return None
    ids = []
    for key, entry in pairs:
        if not isinstance(entry, dict):
            return None
        item_id = entry.get("item_id", key)
        if isinstance(item_id, bool) or not isinstance(item_id, (str, int)):
            return None
        ids.append(str(item_id))
    return ids


def _valid_json(content: bytes) -> bool:
    try:
        msgspec.json.decode(content)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return False
    return True


def check_page(content: bytes) -> None:
    """The property, for one body."""
    expected = expected_ids(content)
    try:
        page = decode_page(content, with_highlights=True)
    except NotAPageError:
        # Refusing a body that is not valid JSON throughout is always right; a valid JSON
        # body is refused only when it is not a page.
        if _valid_json(content):
            assert expected is None, f"a page was refused: {content[:300]!r}"
        return
    if expected is None:
        expected = lenient_ids(content)
    assert expected is not None, f"not a page, yet decoded: {content[:300]!r}"
    rows = [to_record(entry_row(entry, observed_at=OBSERVED_AT)) for entry in page.entries]
    assert [row["item_id"] for row in rows] == expected
    for row in rows:
        ITEM_VALIDATOR.validate(row)
        assert len(set(row["tags"] or [])) == len(row["tags"] or [])
    highlights = [to_record(h) for h in page.highlights]
    for highlight in highlights:
        HIGHLIGHT_VALIDATOR.validate(highlight)
        assert highlight["item_id"] in expected


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
        assert expected_ids(content) is not None
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
