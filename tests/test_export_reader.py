"""The export reader's ids, timestamps, detection, layouts, duplicates and memory."""

from __future__ import annotations

import hashlib
import logging
import random
import shutil
import tracemalloc
import typing as t
import zipfile
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tap_pocket.export import (
    ExportError,
    ExportKind,
    ExportReader,
    derive_highlight_id,
    derive_item_id,
    detect_kind,
    normalise_url,
)
from tap_pocket.rows import HIGHLIGHT_COLUMNS as HIGHLIGHT_FIELDS
from tap_pocket.rows import ITEM_COLUMNS as ITEM_FIELDS
from tap_pocket.tap import TapPocket
from tap_pocket.timestamps import parse_timestamp, unix_to_iso
from tests.fixtures.export import generate
from tests.support import completed

FIXTURES = Path(__file__).parent / "fixtures" / "export"
HEADER = "title,url,time_added,tags,status\n"


def _logger() -> logging.Logger:
    return logging.getLogger("tests.export")


# Ids ------------------------------------------------------------------------------------


def test_item_id_is_u_and_16_hex_digits_of_the_urls_sha256() -> None:
    url = "https://example.com/a"

    assert derive_item_id(url) == "u" + hashlib.sha256(url.encode()).hexdigest()[:16]
    assert derive_item_id("https://github.com/go-shiori/shiori") == "u10dc0048e436a1cd"


def test_item_id_can_be_recomputed_in_sql() -> None:
    duckdb = pytest.importorskip("duckdb")
    url = "https://example.com/?a=1&b=2"

    [(in_sql,)] = duckdb.execute("select 'u' || sha256(?)[1:16]", [url]).fetchall()
    assert in_sql == derive_item_id(url)


def test_item_id_ignores_leaked_entities_and_surrounding_whitespace() -> None:
    plain = "https://example.com/?a=1&b=2"

    assert derive_item_id("https://example.com/?a=1&amp;b=2") == derive_item_id(plain)
    assert derive_item_id("https://example.com/?a=1&amp;amp;b=2") == derive_item_id(plain)
    assert derive_item_id(f"  {plain}\n") == derive_item_id(plain)
    assert derive_item_id("https://example.com/?a=1&#38;b=2") == derive_item_id(plain)
    assert derive_item_id("https://example.com/b") != derive_item_id(plain)


def test_normalise_url_leaves_query_parameters_that_look_like_entities() -> None:
    # html.unescape alone turns "&region=" into "®ion=" and "&not=" into "¬=".
    url = "https://example.com/?x=1&region=eu&not=2&copy=3&amp=4"

    assert normalise_url(url) == url
    assert normalise_url(normalise_url("a&amp;amp;b")) == normalise_url("a&amp;amp;b") == "a&b"


def test_highlight_id_same_moment_in_epoch_or_iso() -> None:
    url, quote = "https://example.com/a", "a quote"
    by_epoch = derive_highlight_id(url, quote, 1600000000)

    assert by_epoch == derive_highlight_id(url, quote, "1600000000")
    assert by_epoch == derive_highlight_id(url, quote, "2020-09-13T12:26:40Z")
    assert by_epoch == derive_highlight_id("https://example.com/a ", quote, 1600000000)
    assert by_epoch != derive_highlight_id(url, "another quote", 1600000000)
    assert by_epoch != derive_highlight_id(url, quote, 1600000001)
    assert by_epoch.startswith("h")
    assert len(by_epoch) == 17
    int(by_epoch[1:], 16)


# Timestamps ------------------------------------------------------------------------------


def test_unix_to_iso_matches_datetime_isoformat() -> None:
    rng = random.Random(7)
    samples = [946_684_800, 946_684_801, 1_600_322_788, 4_102_444_799, 951_782_400]
    samples += [rng.randrange(946_684_800, 4_102_444_800) for _ in range(20_000)]

    for seconds in samples:
        expected = datetime.fromtimestamp(seconds, tz=timezone.utc).isoformat()
        assert unix_to_iso(seconds) == expected, seconds
        assert parse_timestamp(str(seconds)) == expected, seconds


# Detection ------------------------------------------------------------------------------


def test_detect_kind_reads_content_not_names(tmp_path: Path) -> None:
    written = generate.write_synthetic_export(tmp_path / "pocket.zip", 5)
    disguised = {
        "export.dat": written.path.read_bytes(),
        "html.txt": (FIXTURES / "memex_ril_export_fixture.html").read_bytes(),
        "list.csv.bak": (FIXTURES / "shiori_testdata_pocket-old.csv").read_bytes(),
        "dump.txt": (FIXTURES / "karlicoss_pockexport_example_output_2025.json").read_bytes(),
    }
    for name, data in disguised.items():
        (tmp_path / name).write_bytes(data)

    assert detect_kind(tmp_path / "export.dat") is ExportKind.ZIP
    assert detect_kind(tmp_path / "html.txt") is ExportKind.HTML
    assert detect_kind(tmp_path / "list.csv.bak") is ExportKind.CSV
    assert detect_kind(tmp_path / "dump.txt") is ExportKind.API_JSON
    assert detect_kind(tmp_path) is ExportKind.FOLDER
    assert len(list(ExportReader(tmp_path / "export.dat").items())) == 5


def test_detect_kind_tolerates_a_bom_and_an_empty_html_export(tmp_path: Path) -> None:
    bom_csv = tmp_path / "a"
    sample = (FIXTURES / "shiori_testdata_pocket-new.csv").read_bytes()
    bom_csv.write_bytes(b"\xef\xbb\xbf" + sample)
    empty_html = tmp_path / "b"
    empty_html.write_text("<h1>Unread</h1><ul></ul><h1>Read Archive</h1><ul></ul>")

    assert detect_kind(bom_csv) is ExportKind.CSV
    assert [row["given_title"] for row in ExportReader(bom_csv).items()] == ["Shiori"]
    assert detect_kind(empty_html) is ExportKind.HTML
    assert list(ExportReader(empty_html).items()) == []


# Generated exports: several parts, annotations, zip and folder ---------------------------


@pytest.fixture(scope="module")
def synthetic_zip(tmp_path_factory: pytest.TempPathFactory) -> t.Any:
    target = tmp_path_factory.mktemp("zip") / "pocket.zip"
    return generate.write_synthetic_export(target, 2_500, parts_of=1_000, annotations=40)


def _check_synthetic(written: t.Any, reader: ExportReader) -> None:
    items = [completed(row, ITEM_FIELDS) for row in reader.items()]
    highlights = [completed(row, HIGHLIGHT_FIELDS) for row in reader.highlights()]

    assert written.csv_parts == 3
    assert len(items) == written.unique_items
    assert Counter(row["status"] for row in items) == {
        "unread": written.unread,
        "archived": written.archived,
    }
    assert all(tuple(row) == ITEM_FIELDS for row in items)
    assert len({row["item_id"] for row in items}) == len(items)
    assert len(highlights) == written.highlights
    assert all(tuple(row) == HIGHLIGHT_FIELDS for row in highlights)
    # Highlights join to their items by the URL-derived id.
    item_ids = {row["item_id"] for row in items}
    assert {row["item_id"] for row in highlights} <= item_ids
    assert len({row["item_id"] for row in highlights}) == written.annotated_items
    assert all(row["patch"] is None and row["annotation_version"] is None for row in highlights)


def test_generated_zip_with_parts_and_annotations(synthetic_zip: t.Any) -> None:
    _check_synthetic(synthetic_zip, ExportReader(synthetic_zip.path))


def test_generated_folder_with_parts_and_annotations(tmp_path: Path) -> None:
    written = generate.write_synthetic_export(
        tmp_path / "pocket", 2_500, parts_of=1_000, annotations=40
    )
    _check_synthetic(written, ExportReader(written.path))


def test_zip_and_folder_of_one_export_give_the_same_rows(tmp_path: Path) -> None:
    zipped = generate.write_synthetic_export(
        tmp_path / "pocket.zip", 300, parts_of=100, annotations=10
    )
    folder = generate.write_synthetic_export(tmp_path / "pocket", 300, parts_of=100, annotations=10)

    assert list(ExportReader(zipped.path).items()) == list(ExportReader(folder.path).items())
    assert list(ExportReader(zipped.path).highlights()) == list(
        ExportReader(folder.path).highlights()
    )


def test_generated_rows_keep_quirks(tmp_path: Path) -> None:
    written = generate.write_synthetic_export(tmp_path / "pocket.zip", 60, cursor=True)
    by_index = list(ExportReader(written.path).items())  # no duplicates: row i is index i

    assert by_index[0]["given_url"] == "https://example.com/search?q=item 0&page=2"
    assert by_index[0]["given_title"] == by_index[0]["given_url"]  # the title became the URL
    assert by_index[1]["given_url"] == "https://example.org/a/1?x=1&region=eu"
    assert by_index[1]["given_title"].endswith(', "quoted" & more')
    assert "\n\n" in by_index[2]["given_title"]
    assert len(by_index[3]["given_title"]) == 75
    assert by_index[3]["given_title"].endswith(" ")
    assert by_index[0]["time_added"] == "2014-05-13T16:53:20+00:00"
    assert any(" " in tag for row in by_index for tag in row["tags"])
    assert all(row["tags"] == sorted(row["tags"]) for row in by_index)


def test_parts_are_read_in_part_number_order(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    for number in (10, 9, 2):  # not zero-padded: part_10 comes after part_9
        (folder / f"part_{number}.csv").write_text(
            f"{HEADER}P{number},https://example.com/{number},1600000000,,unread\n"
        )

    assert [row["given_title"] for row in ExportReader(folder).items()] == ["P2", "P9", "P10"]


def test_rezipped_folder_with_one_top_folder(tmp_path: Path) -> None:
    archive = tmp_path / "pocket.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr(
            "pocket/part_000000.csv", f"{HEADER}T,https://example.com/,1600000000,,unread\n"
        )
        out.writestr(
            "pocket/annotations/part_000000.json",
            '[{"url":"https://example.com/","title":"T","highlights":'
            '[{"quote":"q","created_at":1600000001}]}]',
        )
        out.writestr("__MACOSX/pocket/._part_000000.csv", b"\x00\x05\x16\x07")

    [item] = ExportReader(archive).items()
    [highlight] = ExportReader(archive).highlights()
    assert highlight["item_id"] == item["item_id"]


def test_zip_with_only_ril_export_html(tmp_path: Path) -> None:
    archive = tmp_path / "pocket.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.write(FIXTURES / "memex_ril_export_fixture.html", "ril_export.html")

    assert len(list(ExportReader(archive).items())) == 3
    assert list(ExportReader(archive).highlights()) == []


def test_ril_export_html_beside_csv_parts_is_ignored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    shutil.copy(FIXTURES / "memex_ril_export_fixture.html", folder / "ril_export.html")
    shutil.copy(FIXTURES / "shiori_testdata_pocket-new.csv", folder / "part_000000.csv")

    with caplog.at_level(logging.INFO):
        rows = list(ExportReader(folder, logger=_logger()).items())

    assert [row["given_title"] for row in rows] == ["Shiori"]
    assert "Ignoring" in caplog.text
    assert "ril_export.html" in caplog.text


def test_streams_can_be_read_in_either_order_or_alone(synthetic_zip: t.Any) -> None:
    first = ExportReader(synthetic_zip.path)
    highlights_first = list(first.highlights())
    items_second = list(first.items())
    second = ExportReader(synthetic_zip.path)

    assert list(second.items()) == items_second
    assert list(second.highlights()) == highlights_first
    assert len(list(ExportReader(synthetic_zip.path).highlights())) == synthetic_zip.highlights


def test_tap_discovery_checks_the_export_path() -> None:
    # Discovery only sniffs the export (tap.py, "a missing or unreadable export_path stops
    # the run at discovery, before any SCHEMA message"); its rows are read at sync.
    with pytest.raises(ExportError, match="export_path"):
        TapPocket(config={"export_path": "/nonexistent/pocket.zip"}, parse_env_config=False)


# Duplicates -----------------------------------------------------------------------------


def test_duplicate_urls_first_wins_each_logged_and_summarised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    written = generate.write_synthetic_export(
        tmp_path / "pocket.zip", 250, parts_of=100, duplicates=3
    )
    with caplog.at_level(logging.INFO, logger="tests.export"):
        rows = list(ExportReader(written.path, logger=_logger()).items())

    assert len(rows) == 247
    first_three = [row["given_url"] for row in rows[:3]]
    assert len({row["item_id"] for row in rows}) == 247
    duplicates = [r for r in caplog.records if r.getMessage().startswith("Skipped a duplicate")]
    assert [r.levelno for r in duplicates] == [logging.INFO] * 3
    assert [r.getMessage().split(": URL ")[1] for r in duplicates] == [
        f"{url} again" for url in first_three
    ]
    # The physical line of the first duplicate: titles above it span several lines.
    with zipfile.ZipFile(written.path) as archive:
        lines = archive.read("part_000002.csv").decode().split("\n")
    line = 1 + next(i for i, text in enumerate(lines) if "q=item 0&amp;page=2" in text)
    assert line > 1 + 47
    assert f"pocket.zip:part_000002.csv, line {line}: URL" in duplicates[0].getMessage()
    summary = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(summary) == 1
    assert "Skipped 3 duplicate items row(s)" in summary[0].getMessage()


def test_same_url_spelled_with_amp_is_a_duplicate(tmp_path: Path) -> None:
    path = tmp_path / "part_000000.csv"
    path.write_text(
        f"{HEADER}First,https://example.com/?a=1&amp;b=2,1600000000,,unread\n"
        "Second,https://example.com/?a=1&b=2,1600000001,,archive\n"
    )

    [row] = ExportReader(path).items()
    assert row["given_title"] == "First"


def test_identical_highlights_are_emitted_once(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    (folder / "annotations").mkdir(parents=True)
    highlight = '{"quote":"q","created_at":1600000000}'
    (folder / "annotations" / "part_000000.json").write_text(
        f'[{{"url":"https://e.com/","title":"t","highlights":[{highlight},{highlight}]}},'
        f'{{"url":"https://e.com/","title":"t","highlights":[{highlight}]}}]'
    )

    assert len(list(ExportReader(folder).highlights())) == 1
    assert list(ExportReader(folder).items()) == []


# Memory ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_big_csv_part_is_streamed_not_loaded(tmp_path: Path) -> None:
    written = generate.write_synthetic_export(tmp_path / "export", 60_000, parts_of=60_000)
    part = written.path / "part_000000.csv"
    assert part.stat().st_size > 5_000_000

    tracemalloc.start()
    try:
        count = sum(1 for _ in ExportReader(written.path).items())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert count == 60_000
    # The only thing that grows is the set of seen ids (~70 bytes per row); the file's
    # text as rows would take far more than its size.
    assert peak < 8_000_000, peak
