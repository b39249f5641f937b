"""Real /v3/get samples parse into schema-valid rows with no field lost."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft7Validator, FormatChecker

from tap_pocket.api.convert import ENTRY_FIELDS, list_entries
from tap_pocket.rows import HIGHLIGHT_SCHEMA, ITEM_SCHEMA
from tap_pocket.timestamps import parse_timestamp

from .support import highlight_records, item_record

#: Raw list-entry keys the rows are read from; anything else is new to us.
KNOWN_RAW_FIELDS = frozenset(ENTRY_FIELDS)

SAMPLES = Path(__file__).parent / "fixtures" / "api"
ITEM_VALIDATOR = Draft7Validator(ITEM_SCHEMA, format_checker=FormatChecker())
HIGHLIGHT_VALIDATOR = Draft7Validator(HIGHLIGHT_SCHEMA, format_checker=FormatChecker())

# Every /v3/get response (or saved list) among the real samples, and how many entries it has.
GET_SAMPLES = {
    "correlaid_pocketapi_get_53items_vignette.json": 53,
    "correlaid_pocketapi_get_complete_4items.json": 4,
    "karlicoss_pockexport_example_output_2025.json": None,  # counted from the file
    "memory_jogger_get_page_multiple_items.json": None,
    "memory_jogger_get_since_sync_deleted_item_status2.json": 1,
    "memory_jogger_get_last_page_empty_list_array.json": 0,
    "wallabag_get_docs_sample_grantland.json": 2,
}
SINGLE_ENTRY_SAMPLES = [
    "pocket_ruby_retrieve_item_docs_derived.json",
    "pocket_ruby_deleted_article_status2.json",
]


def load_entries(name: str) -> list[dict]:
    body = json.loads((SAMPLES / name).read_text(encoding="utf-8"))
    if isinstance(body, list):  # pocket-to-sqlite stores the `list` values as an array
        return list_entries({"list": body})
    if "list" not in body:  # a single entry
        return [body]
    return list_entries(body)


def assert_no_field_lost(raw: dict, row: dict) -> None:  # noqa: C901, PLR0912 (field by field)
    """Every field Pocket sent is understood and its information is in the row."""
    unknown = set(raw) - KNOWN_RAW_FIELDS
    assert not unknown, f"fields the tap does not map: {unknown}"
    if row["status"] in {"deleted", "hidden"}:
        assert row["_sdc_deleted_at"] is not None
        return
    for key in (
        "given_url",
        "given_title",
        "resolved_url",
        "resolved_title",
        "excerpt",
        "amp_url",
        "top_image_url",
    ):
        if key in raw:
            assert row[key] == raw[key], key
    for key in ("word_count", "time_to_read", "listen_duration_estimate", "sort_id"):
        if key in raw:
            assert row[key] == int(raw[key]), key
    for key in ("favorite", "is_article", "is_index"):
        if key in raw:
            assert row[key] is (raw[key] == "1"), key
    for key in ("time_added", "time_updated", "time_read", "time_favorited"):
        if key in raw:
            assert row[key] == parse_timestamp(raw[key]), key
            if raw[key] not in ("0", "2020"):
                assert row[key] is not None, key
    for media in ("video", "image"):
        if f"has_{media}" in raw:
            assert row[f"has_{media}"] is (raw[f"has_{media}"] != "0")
            assert row[f"is_{media}"] is (raw[f"has_{media}"] == "2")
    if raw.get("lang"):
        assert row["lang"] == raw["lang"]
    assert len(row["tags"]) == len(raw.get("tags") or {})
    assert len(row["authors"]) == len(raw.get("authors") or {})
    assert len(row["images"]) == len(raw.get("images") or {})
    assert len(row["videos"]) == len(raw.get("videos") or {})
    assert (row["image"] is None) == (not raw.get("image"))
    assert (row["domain_metadata"] is None) == (not raw.get("domain_metadata"))


@pytest.mark.parametrize("name", sorted(GET_SAMPLES) + SINGLE_ENTRY_SAMPLES)
def test_real_sample_rows_are_schema_valid_and_complete(name: str) -> None:
    entries = load_entries(name)
    expected = GET_SAMPLES.get(name)
    if expected is not None:
        assert len(entries) == expected
    for raw in entries:
        row = item_record(raw, observed_at="2020-03-28T11:00:08+00:00")
        errors = [e.message for e in ITEM_VALIDATOR.iter_errors(row)]
        assert not errors, (raw["item_id"], errors)
        assert_no_field_lost(raw, row)
        for highlight in highlight_records(raw):
            assert not list(HIGHLIGHT_VALIDATOR.iter_errors(highlight))


def test_dogsheep_complete_item_values() -> None:
    (raw,) = load_entries("dogsheep_pocket_to_sqlite_get_item_complete.json")
    row = item_record(raw)
    assert not list(ITEM_VALIDATOR.iter_errors(row))
    assert_no_field_lost(raw, row)


def test_complete_item_typed_values() -> None:
    rows = {
        r["item_id"]: r
        for r in map(item_record, load_entries("correlaid_pocketapi_get_complete_4items.json"))
    }
    httr = rows["1785361118"]
    assert httr["status"] == "unread"
    assert httr["favorite"] is False
    assert httr["time_added"] == "2019-04-05T07:29:33+00:00"
    assert httr["time_read"] is None  # "0" means never
    assert httr["has_image"] is True
    assert httr["is_image"] is False
    assert httr["word_count"] == 237
    assert [i["image_id"] for i in httr["images"]] == ["1", "2", "3"]
    assert httr["images"][0]["width"] == 0
    assert httr["image"]["src"].startswith("https://camo.githubusercontent.com/")
    assert httr["domain_metadata"]["name"] == "GitHub"
    api = rows["679092330"]
    assert api["tags"] == ["rstats", "rtata", "test"]
    assert api["authors"] == [{"author_id": "2656911", "name": "Hadley Wickham", "url": ""}]
    assert api["lang"] is None  # Pocket sent ""


def test_junk_time_read_becomes_null_not_a_crash() -> None:
    entries = load_entries("correlaid_pocketapi_get_53items_vignette.json")
    (junk,) = [e for e in entries if e.get("time_read") == "2020"]
    assert item_record(junk)["time_read"] is None


def test_videos_and_is_video() -> None:
    entries = load_entries("wallabag_get_docs_sample_grantland.json")
    row = item_record(entries[0])
    assert row["status"] == "archived"
    assert row["favorite"] is True
    assert row["tags"] == ["Ryder Cup", "grantland"]
    assert row["videos"] == [
        {
            "video_id": "1",
            "src": "http://www.youtube.com/v/Er34PbFkVGk?version=3&hl=en_US&rel=0",
            "width": 420,
            "height": 315,
            "type": "1",
            "vid": "Er34PbFkVGk",
            "length": None,
        }
    ]
    assert row["has_video"] is True
    assert row["is_video"] is False
    assert item_record({**entries[0], "has_video": "2"})["is_video"] is True


def test_since_sync_tombstone() -> None:
    (raw,) = load_entries("memory_jogger_get_since_sync_deleted_item_status2.json")
    row = item_record(raw, observed_at="2020-03-28T11:00:08+00:00")
    assert row["item_id"] == "2929045771"
    assert row["status"] == "deleted"
    assert row["_sdc_deleted_at"] == "2020-03-28T11:00:08+00:00"
    assert row["time_updated"] == row["_sdc_deleted_at"]
    assert row["given_url"] is None
    assert row["tags"] is None


def test_hidden_items_are_tombstones_too() -> None:
    row = item_record({"item_id": "9", "status": "3", "time_updated": "1600000000"})
    assert row["status"] == "hidden"
    assert row["_sdc_deleted_at"] == row["time_updated"] == "2020-09-13T12:26:40+00:00"


def test_empty_list_is_an_array() -> None:
    assert load_entries("memory_jogger_get_last_page_empty_list_array.json") == []


def test_annotations_become_highlights() -> None:
    entries = load_entries("karlicoss_pockexport_example_output_2025.json")
    annotated = [e for e in entries if e.get("annotations")]
    assert annotated
    highlights = [h for e in annotated for h in highlight_records(e)]
    assert len(highlights) == sum(len(e["annotations"]) for e in annotated)
    first = highlights[0]
    assert first["highlight_id"] == "6d39b7e5-ddcc-463f-8c56-04f2e610704e"
    assert first["item_id"] == annotated[0]["item_id"]
    assert first["annotation_version"] == 2
    assert first["created_at"] == "2019-09-22T03:36:43+00:00"
    assert first["patch"].startswith("@@ -997,16")


def test_resolved_id_differs_from_item_id_is_kept() -> None:
    entries = load_entries("karlicoss_pockexport_example_output_2025.json")
    raw = next(e for e in entries if e["item_id"] == "1042711293")
    row = item_record(raw)
    assert row["item_id"] == "1042711293"
    assert row["resolved_id"] == "3656679773"
