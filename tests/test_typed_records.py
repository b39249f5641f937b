"""Typed page decoding (api.page.decode_whole) gives the rows of lenient per-entry reading.

A page either decodes typed, and then every row and highlight equals what the dict path
(item_record, highlight_records) makes of the same page, or it does not decode typed
at all and the dict path reads it. Checked on every real sample, on emulator pages, and
on thousands of entries with Pocket's fields set to odd values.
"""

from __future__ import annotations

import json
import random
import typing as t

import msgspec
import pytest

from pocket_emulator import generate_account
from tap_pocket.api.convert import entry_highlights, identified, list_entries
from tap_pocket.api.page import decode_whole
from tap_pocket.rows import to_record
from tap_pocket.scalars import parse_int

from .support import LONG_FUZZ, entry_record, highlight_records, item_record
from .test_records import GET_SAMPLES, SAMPLES

OBSERVED_AT = "2020-03-28T11:00:08+00:00"


def dict_path(content: bytes) -> tuple[list[dict[str, t.Any]], list[dict[str, t.Any]]]:
    entries = list_entries(json.loads(content))
    rows = [item_record(e, observed_at=OBSERVED_AT) for e in entries]
    return rows, [h for e in entries for h in highlight_records(e)]


def typed_path(content: bytes) -> tuple[list[dict[str, t.Any]], list[dict[str, t.Any]]] | None:
    decoded = decode_whole(content)
    if decoded is None:
        return None
    listing, _total = decoded
    pairs = listing.items() if isinstance(listing, dict) else [(None, e) for e in listing]
    entries = [identified(entry, key) for key, entry in pairs]
    rows = [entry_record(e, observed_at=OBSERVED_AT) for e in entries]
    return rows, [to_record(h) for e in entries for h in entry_highlights(e)]


def assert_same_rows_or_dict_path(content: bytes) -> bool:
    """True when the typed path read the page (with the dict path's rows)."""
    typed = typed_path(content)
    if typed is None:
        return False
    assert typed == dict_path(content)
    return True


@pytest.mark.parametrize("name", sorted(n for n in GET_SAMPLES if not n.startswith("karlicoss")))
def test_real_samples_decode_typed_to_the_same_rows(name: str) -> None:
    content = (SAMPLES / name).read_bytes()
    assert assert_same_rows_or_dict_path(content), "a real Pocket page should decode typed"


def test_emulator_pages_decode_typed_to_the_same_rows() -> None:
    account = generate_account(400, seed=11)
    for item_id in sorted(r["item_id"] for r in account.live_items())[:5]:
        account.delete_item(item_id)
    body = {"status": 1, "list": {r["item_id"]: r for r in account.live_items(annotations=True)}}
    body["list"].update({i: {"item_id": i, "status": "2"} for i in account.deleted_ids()})
    content = json.dumps(body).encode()
    assert assert_same_rows_or_dict_path(content)
    rows, highlights = dict_path(content)
    assert len(rows) == 400
    assert highlights


JUNK = [
    None, "", " ", "0", "1", "2", "3", "-7", "12.0", "1e3", "1.5", " 12", "+12", "00012",
    "1_000", "abc", "null", "true", 0, 1, 2, 12.0, 12.5, -0.0, True, False, [], {}, [1],
    {"1": 1}, {"1": {"src": "x", "width": "3"}}, {"b": {"tag": "b"}, "a": {}}, [{"tag": "t"}],
    {"10": {"name": "x"}, "9": {"name": "y"}, "z": {"url": 1}}, {"x": {"item_id": "1"}},
    "1600000000", 1600000000, "2020", 4102444800, 946684800, 1.6e9,
]  # fmt: skip


#: Pages with odd values compared: 1,000 in CI, 20,000 with HYPOTHESIS_PROFILE=long.
ODD_PAGES = 20_000 if LONG_FUZZ else 1_000


def test_odd_values_give_the_same_rows_on_either_path() -> None:
    rng = random.Random(5)
    base = [
        e
        for name in sorted(GET_SAMPLES)
        if not name.startswith("karlicoss")
        for e in list_entries(json.loads((SAMPLES / name).read_bytes()))
    ]
    fields = sorted({key for entry in base for key in entry} | {"annotations", "image"})
    typed_pages = 0
    for _ in range(ODD_PAGES):
        entry = dict(rng.choice(base))
        for field in rng.sample(fields, rng.randint(1, 3)):
            inner = entry.get(field)
            if isinstance(inner, dict) and inner and rng.random() < 0.5:
                # Inside an id-keyed object (authors, images, tags...): one odd value.
                key = rng.choice(sorted(inner))
                value = inner[key]
                if isinstance(value, dict) and value:
                    value = {**value, rng.choice(sorted(value)): rng.choice(JUNK)}
                else:
                    value = rng.choice(JUNK)
                entry[field] = {**inner, key: value}
            else:
                entry[field] = rng.choice(JUNK)
        entry["item_id"] = str(entry.get("item_id") or "1")
        content = msgspec.json.encode({"list": {entry["item_id"]: entry}})
        typed_pages += assert_same_rows_or_dict_path(content)
    assert 0 < typed_pages < ODD_PAGES  # both paths were exercised


@pytest.mark.parametrize(
    ("value", "expected"),
    [("12", 12), (12, 12), ("12.0", 12), (12.0, 12), ("1e3", 1000), ("-0.0", 0), ("1.5", None),
     (12.5, None), ("", None), ("abc", None), (True, None), (None, None), ("nan", None)],
)  # fmt: skip
def test_parse_int_reads_integral_numbers_as_the_typed_decoder_does(
    value: t.Any, expected: int | None
) -> None:
    assert parse_int(value) == expected
