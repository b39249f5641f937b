"""Damaged, hostile and huge exports through the real CLI (issue #13, the export half).

One test (or a few) per numbered case of the issue, each asserting the exit code, the
message and the rows. Nothing read from damaged input is emitted, a broken record costs
only its own lines, every value over a cap is a bad row with file and line, and the
command's peak RSS (its own, from wait4) stays under 300 MB whatever the input. Bombs are
generated compressed (a few MB of disk), so the tests need neither GBs nor minutes.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import shutil
import struct
import time
import typing as t
import zipfile

import pytest

from tap_pocket.export import ExportError, ExportReader
from tap_pocket.export.layout import ExportFile
from tap_pocket.export.problems import DUMP_CAP, BadRows, RoundedTimes, SeenIds
from tap_pocket.export.ril_html import html_items
from tests.fixtures.export import generate
from tests.fixtures.export.hostile import (
    BLOCK,
    HEADER,
    BombMember,
    csv_rows,
    csv_text,
    ril_export_html,
    run_measured,
    write_bomb_zip,
)

from .conftest import FIXTURES, run_cli

if t.TYPE_CHECKING:
    from pathlib import Path

RSS_CAP_MB = 300
GOOD = "Good,https://example.com/good,1600000000,,unread\n"
LAST = "Last,https://example.com/last,1600000001,,archive\n"


def _no_traceback(stderr: str) -> None:
    assert "Traceback" not in stderr, stderr[-3000:]


def _titles(records: list[dict[str, t.Any]]) -> list[str]:
    return [record["given_title"] for record in records]


def _error_line(stderr: str) -> str:
    """The one ERROR line a failed run ends with."""
    errors = [line for line in stderr.splitlines() if "| ERROR" in line]
    assert errors, stderr[-3000:]
    return errors[-1]


# 1. A truncated ril_export.html -----------------------------------------------------------


def _html_export(count: int) -> tuple[str, list[tuple[str, str, int, str]]]:
    links = [
        (f"https://example.com/{n}", f"A title, number {n}", 1_600_000_000 + n, "a,b")
        for n in range(count)
    ]
    return ril_export_html(links[: count // 2], links[count // 2 :]), links


@pytest.mark.parametrize("skip", [False, True])
@pytest.mark.parametrize("where", ["half", "inside a title", "before </html>"])
def test_a_truncated_ril_export_html_is_an_error_naming_the_last_line(
    tmp_path: Path, where: str, *, skip: bool
) -> None:
    text, links = _html_export(300)
    cut = {
        "half": len(text) // 2,
        "inside a title": text.index("A title, number 200") + 9,
        "before </html>": text.rindex("</html>"),
    }[where]
    path = tmp_path / "ril_export.html"
    path.write_text(text[:cut], encoding="utf-8")
    last_line = text[:cut].count("\n") + (not text[:cut].endswith("\n"))

    result = run_cli(config={"export_path": str(path), "skip_bad_rows": skip}, tmp_path=tmp_path)

    assert result.returncode != 0
    _no_traceback(result.stderr)
    error = _error_line(result.stderr)
    assert f"{path}, line {last_line}: the file ends " in error
    assert "it was cut short" in error
    # Only whole links before the cut, never the cut one.
    titles = _titles(result.output.records["items"])
    complete = text[:cut].count("</a>")
    assert titles == [title for _, title, _, _ in links[:complete]]
    if where == "inside a title":
        assert "A title, n" not in titles


# 2. A damaged zip member: nothing read from it is kept ----------------------------------


def _zip_with_a_big_second_part(path: Path, compression: int) -> None:
    with zipfile.ZipFile(path, "w", compression) as archive:
        archive.writestr("part_000000.csv", csv_text(csv_rows(5)))
        archive.writestr("part_000001.csv", csv_text(csv_rows(3000, start=100)))


def _member_data_start(path: Path, name: str) -> tuple[int, int]:
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(name)
    data = path.read_bytes()
    name_length, extra_length = struct.unpack_from("<HH", data, info.header_offset + 26)
    return info.header_offset + 30 + name_length + extra_length, info.compress_size


@pytest.mark.parametrize("compression", [zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED])
@pytest.mark.parametrize("at", [0.1, 0.5, 0.9])
def test_a_damaged_zip_member_emits_nothing_of_its_own_and_fails(
    tmp_path: Path, compression: int, at: float
) -> None:
    path = tmp_path / "pocket.zip"
    _zip_with_a_big_second_part(path, compression)
    start, size = _member_data_start(path, "part_000001.csv")
    data = bytearray(path.read_bytes())
    for offset in range(int(size * at), int(size * at) + 8):  # a few bytes garbled
        data[start + offset] ^= 0x5A
    path.write_bytes(bytes(data))

    result = run_cli(config={"export_path": str(path), "skip_bad_rows": True}, tmp_path=tmp_path)

    assert result.returncode != 0
    _no_traceback(result.stderr)
    error = _error_line(result.stderr)
    assert f"{path}:part_000001.csv, line " in error
    assert "this zip member is damaged" in error
    assert "nothing was loaded from it" in error
    # Exactly the rows of the intact part: none of the damaged one, no garbage.
    assert _titles(result.output.records["items"]) == [f"Title {n}" for n in range(5)]


# 3. An unterminated quote costs its own line only ---------------------------------------


def test_an_unterminated_quote_loses_only_its_line_with_skip_bad_rows(tmp_path: Path) -> None:
    rows = csv_text(csv_rows(300)).splitlines(keepends=True)
    rows[5] = '"' + rows[5]  # row 5 (line 6) opens a quote it never closes
    path = tmp_path / "part_000000.csv"
    path.write_text("".join(rows), encoding="utf-8")

    result = run_cli(config={"export_path": str(path), "skip_bad_rows": True}, tmp_path=tmp_path)

    assert result.returncode == 0, result.stderr[-3000:]
    titles = _titles(result.output.records["items"])
    assert titles == [f"Title {n}" for n in range(300) if n != 4]
    assert f"{path}, lines 6-301: the file ends inside a quoted field" in result.stderr
    assert "reading on from line 7" in result.stderr
    assert f"Skipped 1 bad items row(s) of {path} (skip_bad_rows); each is logged" in (
        result.stderr
    )

    result = run_cli(config={"export_path": str(path)}, tmp_path=tmp_path)  # without skip
    assert result.returncode != 0
    assert f"{path}, lines 6-301: the file ends inside a quoted field" in result.stderr
    assert _titles(result.output.records["items"]) == [f"Title {n}" for n in range(4)]


def test_a_stray_quote_in_a_generated_export_loses_one_row_of_3000(tmp_path: Path) -> None:
    written = generate.write_synthetic_export(tmp_path / "export", 3000, parts_of=3000)
    part = tmp_path / "export" / "part_000000.csv"
    lines = part.read_text(encoding="utf-8").splitlines(keepends=True)
    reader = csv.reader(lines)
    single = []  # the index of each line that holds a whole record, unquoted
    before = 0
    for _ in reader:
        if reader.line_num == before + 1 and not lines[before].startswith('"'):
            single.append(before)
        before = reader.line_num
    victim = next(n for n in single if n > 1500)
    lines[victim] = '"' + lines[victim]
    part.write_text("".join(lines), encoding="utf-8")

    result = run_cli(
        config={"export_path": str(tmp_path / "export"), "skip_bad_rows": True},
        tmp_path=tmp_path,
    )

    assert result.returncode == 0, result.stderr[-3000:]
    assert len(result.output.records["items"]) == written.unique_items - 1
    assert "Skipped 1 bad items row(s)" in result.stderr


def test_the_summary_counts_the_lines_lost(tmp_path: Path) -> None:
    path = tmp_path / "part_000000.csv"
    path.write_text(
        HEADER + GOOD + '"A title\nacross\nthree lines",https://e.com/x,1600000000,,starred\n'
        "Short,https://e.com/y\n" + LAST,
        encoding="utf-8",
    )

    result = run_cli(config={"export_path": str(path), "skip_bad_rows": True}, tmp_path=tmp_path)

    assert result.returncode == 0
    assert _titles(result.output.records["items"]) == ["Good", "Last"]
    assert f"Skipped 2 bad items row(s) of {path} (skip_bad_rows, 4 lines lost)" in (result.stderr)


# 4. Two members of one name ---------------------------------------------------------------


def test_a_zip_with_two_members_of_one_name_is_refused_as_ambiguous(tmp_path: Path) -> None:
    path = tmp_path / "pocket.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("part_000000.csv", csv_text(csv_rows(3)))
        with pytest.warns(UserWarning, match="Duplicate name"):
            archive.writestr("part_000000.csv", csv_text(csv_rows(3, start=3)))

    for skip in (False, True):
        result = run_cli(
            config={"export_path": str(path), "skip_bad_rows": skip}, tmp_path=tmp_path
        )

        assert result.returncode != 0
        _no_traceback(result.stderr)
        assert f"{path}: holds 2 members named part_000000.csv: the export is ambiguous" in (
            _error_line(result.stderr)
        )
        assert result.output.records["items"] == []


# 5. Tags unique per item, trimmed --------------------------------------------------------


def test_csv_tags_are_unique_and_trimmed(tmp_path: Path) -> None:
    path = tmp_path / "part_000000.csv"
    path.write_text(
        HEADER
        + "A,https://e.com/a,1600000000,recipe|vegetarian|recipe|vegetarian,unread\n"
        + "B,https://e.com/b,1600000000, a | b ,unread\n"
        + "C,https://e.com/c,1600000000,x|| x |,unread\n",
        encoding="utf-8",
    )

    result = run_cli(config={"export_path": str(path)}, tmp_path=tmp_path)

    assert result.returncode == 0, result.stderr[-3000:]
    tags = [record["tags"] for record in result.output.records["items"]]
    assert tags == [["recipe", "vegetarian"], ["a", "b"], ["x"]]


def test_html_tags_are_unique_and_trimmed(tmp_path: Path) -> None:
    path = tmp_path / "ril_export.html"
    path.write_text(
        ril_export_html(
            [
                ("https://e.com/a", "A", 1_600_000_000, "recipe,vegetarian,recipe,vegetarian"),
                ("https://e.com/b", "B", 1_600_000_000, " a , b ,a"),
            ]
        ),
        encoding="utf-8",
    )

    result = run_cli(config={"export_path": str(path)}, tmp_path=tmp_path)

    assert result.returncode == 0, result.stderr[-3000:]
    tags = [record["tags"] for record in result.output.records["items"]]
    assert tags == [["recipe", "vegetarian"], ["a", "b"]]


# 8. Resources: bombs, caps, linear time, summarised warnings -----------------------------

# 512 MiB members in CI (each run reads them twice, checking then parsing: a few seconds);
# the closing note of the issue gives the 2 GiB figures, measured with HOSTILE_BLOCKS=128.
BOMB_BLOCKS = int(os.environ.get("HOSTILE_BLOCKS", "32"))


@pytest.mark.slow
def test_a_single_line_csv_bomb_is_a_bad_row_in_bounded_memory(tmp_path: Path) -> None:
    path = write_bomb_zip(
        tmp_path / "pocket.zip",
        [
            BombMember(
                "part_000000.csv",
                (HEADER + GOOD + "Huge,https://e.com/").encode(),
                b"a" * BLOCK,
                BOMB_BLOCKS,
                (",1600000000,,unread\n" + LAST).encode(),
            )
        ],
    )

    result = run_measured({"export_path": str(path), "skip_bad_rows": True}, tmp_path)

    assert result.returncode == 0, result.stderr[-3000:]
    assert _titles(result.records()) == ["Good", "Last"]
    assert f"{path}:part_000000.csv, line 3: a line longer than the cap of 4 MiB" in (result.stderr)
    assert result.peak_rss_mb < RSS_CAP_MB

    result = run_measured({"export_path": str(path)}, tmp_path)
    assert result.returncode != 0
    assert "line 3: a line longer than the cap of 4 MiB" in _error_line(result.stderr)
    assert result.peak_rss_mb < RSS_CAP_MB


@pytest.mark.slow
def test_whitespace_bomb_in_an_annotations_file_in_bounded_memory(tmp_path: Path) -> None:
    entry = {"url": "https://example.com/good", "title": "Good", "highlights": []}
    first = dict(entry, highlights=[{"quote": "one", "created_at": 1_600_000_000}])
    second = dict(entry, highlights=[{"quote": "two", "created_at": 1_600_000_001}])
    path = write_bomb_zip(
        tmp_path / "pocket.zip",
        [
            BombMember("part_000000.csv", (HEADER + GOOD).encode()),
            BombMember(
                "annotations/part_000000.json",
                ("[" + json.dumps(first) + ",").encode(),
                b" " * (BLOCK - 1) + b"\n",
                BOMB_BLOCKS,
                (json.dumps(second) + "]").encode(),
            ),
        ],
    )

    result = run_measured({"export_path": str(path)}, tmp_path)

    assert result.returncode == 0, result.stderr[-3000:]
    assert [h["quote"] for h in result.records("highlights")] == ["one", "two"]
    assert result.peak_rss_mb < RSS_CAP_MB


@pytest.mark.slow
def test_a_huge_html_link_text_is_a_bad_row_in_bounded_memory(tmp_path: Path) -> None:
    text = ril_export_html(
        [
            ("https://e.com/1", "One", 1_600_000_000, ""),
            ("https://e.com/huge", "HUGE", 1_600_000_000, ""),
            ("https://e.com/3", "Three", 1_600_000_000, ""),
        ]
    )
    head, tail = text.split("HUGE")
    path = write_bomb_zip(
        tmp_path / "pocket.zip",
        [BombMember("ril_export.html", head.encode(), b"x" * BLOCK, BOMB_BLOCKS, tail.encode())],
    )

    result = run_measured({"export_path": str(path), "skip_bad_rows": True}, tmp_path)

    assert result.returncode == 0, result.stderr[-3000:]
    assert _titles(result.records()) == ["One", "Three"]
    assert (
        f"{path}:ril_export.html, line 12: the link's text is longer than the cap of 1 MiB"
        in result.stderr
    )
    assert result.longest_stdout_line < 10_000
    assert result.peak_rss_mb < RSS_CAP_MB


def export_with_unclosed_attribute(folder: Path, megabytes: int) -> Path:
    """A ril_export.html whose second link's href is never closed, ``megabytes`` long.

    bench/timings.py times the CLI on the 32 MiB one (a wall-clock bound is no test's).
    """
    text = ril_export_html(
        [
            ("https://e.com/1", "One", 1_600_000_000, ""),
            ("https://e.com/3", "Three", 1_600_000_000, ""),
        ]
    )
    broken = '<li><a href="https://e.com/2' + "x" * (megabytes << 20) + "\n"
    at = text.index('<li><a href="https://e.com/3')
    path = folder / f"ril_export_{megabytes}.html"
    path.write_text(text[:at] + broken + text[at:], encoding="utf-8")
    return path


def test_an_unclosed_html_attribute_is_a_bad_row_read_in_linear_time(tmp_path: Path) -> None:
    def cpu_seconds(path: Path) -> float:
        bad = BadRows(logging.getLogger("tests.hostile"), "items", skip=True)
        seen = SeenIds(logging.getLogger("tests.hostile"), "items")
        times = RoundedTimes(logging.getLogger("tests.hostile"))
        began = time.process_time()
        rows = list(html_items(ExportFile.on_disk(path), seen, bad, times))
        took = time.process_time() - began
        # Reading goes on after the tag over the cap: Three's line is whole.
        assert [row["given_title"] for row in rows] == ["One", "Three"]
        assert bad.count == 1
        return took

    small = export_with_unclosed_attribute(tmp_path, 8)
    large = export_with_unclosed_attribute(tmp_path, 32)
    ratio = min(cpu_seconds(large) for _ in range(2)) / min(cpu_seconds(small) for _ in range(2))
    assert ratio < 8, ratio  # linear: 4; quadratic (html.parser alone): 16

    result = run_measured({"export_path": str(large), "skip_bad_rows": True}, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"{large}, line 12: a tag longer than the cap of 4 MiB" in result.stderr
    assert result.peak_rss_mb < RSS_CAP_MB


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("T,https://e.com/" + "u" * (1 << 21) + ",1600000000,,unread\n", "a field longer than"),
        ('"' + "t" * (1 << 21) + '",https://e.com/x,1600000000,,unread\n', "a field longer than"),
        ("T,https://e.com/x,1600000000," + "|".join(["tag"] * 600_000) + ",unread\n", "a field"),
    ],
)
def test_a_field_over_its_cap_is_a_bad_row_with_file_and_line(
    tmp_path: Path, row: str, reason: str
) -> None:
    path = tmp_path / "part_000000.csv"
    path.write_text(HEADER + GOOD + row + LAST, encoding="utf-8")

    result = run_cli(config={"export_path": str(path), "skip_bad_rows": True}, tmp_path=tmp_path)

    assert result.returncode == 0, result.stderr[-3000:]
    assert _titles(result.output.records["items"]) == ["Good", "Last"]
    assert f"{path}, line 3: {reason}" in result.stderr

    result = run_cli(config={"export_path": str(path)}, tmp_path=tmp_path)
    assert result.returncode != 0
    assert f"{path}, line 3: {reason}" in _error_line(result.stderr)


def test_an_annotation_entry_over_its_cap_is_a_bad_row(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    (folder / "annotations").mkdir(parents=True)
    (folder / "part_000000.csv").write_text(HEADER + GOOD, encoding="utf-8")
    huge = {"url": "https://example.com/good", "highlights": [{"quote": "q" * (5 << 20)}]}
    good = {"url": "https://example.com/good", "highlights": [{"quote": "ok", "created_at": 1}]}
    good["highlights"][0]["created_at"] = 1_600_000_000
    (folder / "annotations" / "part_000000.json").write_text(
        "[\n" + json.dumps(huge) + ",\n" + json.dumps(good) + "\n]", encoding="utf-8"
    )

    result = run_cli(config={"export_path": str(folder), "skip_bad_rows": True}, tmp_path=tmp_path)

    assert result.returncode == 0, result.stderr[-3000:]
    assert [h["quote"] for h in result.output.records["highlights"]] == ["ok"]
    name = folder / "annotations" / "part_000000.json"
    assert f"{name}, line 2: entry 1: the entry is longer than the cap of 4 MiB" in (result.stderr)


def test_repeated_warnings_are_summarised_after_the_first_20(tmp_path: Path) -> None:
    path = tmp_path / "part_000000.csv"
    bad = "".join(f"B{n},https://e.com/{n},never,,unread\n" for n in range(100))
    path.write_text(HEADER + GOOD + bad + LAST, encoding="utf-8")

    result = run_cli(config={"export_path": str(path), "skip_bad_rows": True}, tmp_path=tmp_path)

    assert result.returncode == 0
    assert result.stderr.count("Skipped a bad items row (skip_bad_rows)") == 20
    assert "More bad items rows are only counted, not logged one by one" in result.stderr
    assert (
        f"Skipped 100 bad items row(s) of {path} (skip_bad_rows); the first 20 are logged above"
        in result.stderr
    )


@pytest.mark.slow
def test_a_million_duplicate_rows_log_20_lines_and_a_count(tmp_path: Path) -> None:
    duplicates = 1_000_000
    path = write_bomb_zip(
        tmp_path / "pocket.zip",
        [BombMember("part_000000.csv", (HEADER + GOOD).encode(), GOOD.encode() * duplicates, 1)],
    )

    result = run_measured({"export_path": str(path)}, tmp_path, timeout=120)

    assert result.returncode == 0, result.stderr[-3000:]
    assert _titles(result.records()) == ["Good"]
    assert result.stderr.count("Skipped a duplicate items row") == 20
    assert f"Skipped {duplicates} duplicate items row(s) of {path}" in result.stderr
    assert len(result.stderr) < 50_000
    assert result.peak_rss_mb < RSS_CAP_MB


# 10. FIFOs and symbolic links -----------------------------------------------------------


def test_a_fifo_as_export_path_fails_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "pocket.zip"
    os.mkfifo(fifo)

    result = run_cli(config={"export_path": str(fifo)}, tmp_path=tmp_path, timeout=30)

    assert result.returncode != 0
    _no_traceback(result.stderr)
    assert f"{fifo}: is a FIFO (named pipe), not a file" in _error_line(result.stderr)


def test_a_fifo_in_an_export_folder_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "part_000000.csv").write_text(HEADER + GOOD, encoding="utf-8")
    os.mkfifo(folder / "part_000001.csv")

    result = run_cli(config={"export_path": str(folder)}, tmp_path=tmp_path, timeout=30)

    assert result.returncode != 0
    assert f"{folder / 'part_000001.csv'}: is a FIFO (named pipe), not a file" in (
        _error_line(result.stderr)
    )


def test_a_symlink_loop_is_reported_as_such(tmp_path: Path) -> None:
    loop = tmp_path / "pocket.zip"
    loop.symlink_to(tmp_path / "other.zip")
    (tmp_path / "other.zip").symlink_to(loop)
    dangling = tmp_path / "gone.zip"
    dangling.symlink_to(tmp_path / "nowhere.zip")

    result = run_cli(config={"export_path": str(loop)}, tmp_path=tmp_path)
    assert result.returncode != 0
    error = _error_line(result.stderr)
    assert f"{loop}: is a symbolic link loop" in error
    assert "not found" not in error

    result = run_cli(config={"export_path": str(dangling)}, tmp_path=tmp_path)
    assert result.returncode != 0
    assert f"{dangling}: is a symbolic link to {tmp_path / 'nowhere.zip'}, which does not" in (
        _error_line(result.stderr)
    )


def test_a_symlink_loop_in_an_export_folder_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "part_000000.csv").write_text(HEADER + GOOD, encoding="utf-8")
    (folder / "part_000001.csv").symlink_to(folder / "part_000001.csv")

    result = run_cli(config={"export_path": str(folder)}, tmp_path=tmp_path)

    assert result.returncode != 0
    assert f"{folder / 'part_000001.csv'}: is a symbolic link loop" in _error_line(result.stderr)


# 11. Clear errors, never a traceback ---------------------------------------------------


def _annotations_folder(tmp_path: Path, annotations: str) -> tuple[Path, Path]:
    folder = tmp_path / "export"
    (folder / "annotations").mkdir(parents=True)
    (folder / "part_000000.csv").write_text(HEADER + GOOD, encoding="utf-8")
    part = folder / "annotations" / "part_000000.json"
    part.write_text(annotations, encoding="utf-8")
    return folder, part


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_a_created_at_that_is_no_finite_number_is_a_bad_row(tmp_path: Path, value: str) -> None:
    folder, part = _annotations_folder(
        tmp_path,
        '[{"url": "https://example.com/good", "highlights": [\n'
        '  {"quote": "fine", "created_at": 1600000000}]},\n'
        '{"url": "https://example.com/good", "highlights": [\n'
        f'  {{"quote": "bad", "created_at": {value}}}]}}]',
    )

    result = run_cli(config={"export_path": str(folder), "skip_bad_rows": True}, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert [h["quote"] for h in result.output.records["highlights"]] == ["fine"]
    assert f"{part}, line 3: entry 2, highlight 1: the highlight's created_at" in result.stderr

    result = run_cli(config={"export_path": str(folder)}, tmp_path=tmp_path)
    assert result.returncode != 0
    _no_traceback(result.stderr)
    assert f"{part}, line 3: entry 2, highlight 1: the highlight's created_at" in _error_line(
        result.stderr
    )


def test_an_encrypted_zip_member_is_named(tmp_path: Path) -> None:
    path = tmp_path / "pocket.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("part_000000.csv", HEADER + GOOD)
    data = bytearray(path.read_bytes())
    for signature, flags_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.index(signature)
        data[at + flags_at] |= 0x01  # the "encrypted" flag, as a password-protected zip sets it
    path.write_bytes(bytes(data))

    result = run_cli(config={"export_path": str(path)}, tmp_path=tmp_path)

    assert result.returncode != 0
    _no_traceback(result.stderr)
    assert f"{path}:part_000000.csv: this zip member is encrypted" in _error_line(result.stderr)


def test_deeply_nested_json_is_a_clear_error(tmp_path: Path) -> None:
    nested = "[" * 200_000 + "]" * 200_000
    folder, part = _annotations_folder(
        tmp_path,
        '[{"url": "https://example.com/good", "highlights": [{"quote": "q", '
        '"created_at": 1600000000}]},\n' + nested + "]",
    )
    result = run_cli(config={"export_path": str(folder), "skip_bad_rows": True}, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert [h["quote"] for h in result.output.records["highlights"]] == ["q"]
    assert f"{part}, line 2: entry 2: the entry is nested deeper than 64 levels" in result.stderr

    dump = tmp_path / "dump.json"
    dump.write_text('{"list": ' + nested + "}", encoding="utf-8")
    result = run_cli(config={"export_path": str(dump)}, tmp_path=tmp_path)
    assert result.returncode != 0
    _no_traceback(result.stderr)
    assert f"{dump}: is not a Pocket export: its JSON is nested too deeply" in _error_line(
        result.stderr
    )


def test_a_zip_of_annotations_only_has_highlights_but_no_items(tmp_path: Path) -> None:
    path = tmp_path / "pocket.zip"
    entry = {"url": "https://e.com/", "highlights": [{"quote": "q", "created_at": 1600000000}]}
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("annotations/part_000000.json", json.dumps([entry]))

    result = run_cli(config={"export_path": str(path)}, tmp_path=tmp_path)

    assert result.returncode == 0, result.stderr[-3000:]
    assert [h["quote"] for h in result.output.records["highlights"]] == ["q"]
    assert result.output.records["items"] == []
    assert f"{path} holds highlights (annotations/part_*.json) but no items" in result.stderr


@pytest.mark.parametrize("name", ["part_000000.csv", "export.csv"])
def test_a_csv_with_a_wrong_header_says_which_columns_are_missing(
    tmp_path: Path, name: str
) -> None:
    path = tmp_path / name
    path.write_text("title,link,time_added,tags,status\n" + GOOD, encoding="utf-8")

    result = run_cli(config={"export_path": str(path)}, tmp_path=tmp_path)

    assert result.returncode != 0
    _no_traceback(result.stderr)
    assert "the CSV header lacks url (found the columns title,link,time_added,tags,status" in (
        _error_line(result.stderr)
    )


def test_an_error_on_a_symlinked_part_names_the_path_not_the_content(tmp_path: Path) -> None:
    secret = tmp_path / "secrets.txt"
    secret.write_text("TAP_POCKET_ACCESS_TOKEN=at-SECRET-value\nmore\n", encoding="utf-8")
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "part_000000.csv").symlink_to(secret)

    result = run_cli(config={"export_path": str(folder)}, tmp_path=tmp_path)

    assert result.returncode != 0
    _no_traceback(result.stderr)
    error = _error_line(result.stderr)
    assert f"{folder / 'part_000000.csv'}, line 1: the CSV header lacks" in error
    assert "its first line is not a header of column names" in error
    assert "SECRET" not in result.stderr


def test_reader_errors_are_export_errors_with_one_line(tmp_path: Path) -> None:
    """The same cases in process: ExportError, one line, never another exception."""
    path = tmp_path / "part_000000.csv"
    path.write_text(HEADER + '"' + GOOD + "\x00" * 10 + "\n", encoding="utf-8")
    with pytest.raises(ExportError) as caught:
        list(ExportReader(path).items())
    assert "\n" not in str(caught.value)
    shutil.rmtree(tmp_path / "nothing", ignore_errors=True)


def highlighted_entry() -> dict[str, t.Any]:
    """A real saved entry with annotations (karlicoss/pockexport's example output)."""
    sample = FIXTURES / "export" / "karlicoss_pockexport_example_output_2025.json"
    entries = json.loads(sample.read_text(encoding="utf-8"))["list"].values()
    return next(entry for entry in entries if entry.get("annotations"))


def write_big_dump(path: Path, size: int, *, cut: int = 0) -> list[str]:
    """A saved ``/v3/get`` response over ``size`` bytes: one real entry under new ids.

    ``cut`` drops that many bytes from the end (a truncated download). Returns the ids.
    """
    entry = highlighted_entry()
    ids: list[str] = []
    with path.open("wb") as out:
        out.write(b'{"status": 1, "since": 1700000000, "list": {')
        written = 0
        while written < size:
            item_id = str(10_000_000 + len(ids))
            chunk = (
                ("," if ids else "")
                + json.dumps(item_id)
                + ": "
                + json.dumps({**entry, "item_id": item_id}, ensure_ascii=False)
                + "\n"
            ).encode()
            out.write(chunk)
            written += len(chunk)
            ids.append(item_id)
        out.write(b'}, "complete": 1}')
    if cut:
        with path.open("r+b") as out:
            out.truncate(path.stat().st_size - cut)
    return ids


@pytest.mark.slow
def test_a_dump_over_the_whole_decode_cap_is_read_in_batches_in_bounded_memory(
    tmp_path: Path,
) -> None:
    """A 1.5 x DUMP_CAP saved response: every entry and highlight, under the RSS cap.

    Decoded whole, its rows alone would take about three times its size.
    """
    dump = tmp_path / "get.json"
    ids = write_big_dump(dump, DUMP_CAP + DUMP_CAP // 2)
    result = run_measured({"export_path": str(dump)}, tmp_path, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    records = result.records()
    assert [r["item_id"] for r in records] == ids
    highlights = result.records("highlights")
    assert len(highlights) == len(ids) * len(highlighted_entry()["annotations"])
    assert result.peak_rss_mb < RSS_CAP_MB


@pytest.mark.slow
def test_a_truncated_big_dump_is_one_error_with_its_line_and_no_rows(tmp_path: Path) -> None:
    dump = tmp_path / "get.json"
    ids = write_big_dump(dump, DUMP_CAP + 1024 * 1024, cut=100)
    result = run_measured({"export_path": str(dump)}, tmp_path, timeout=120)
    assert result.returncode != 0
    assert not result.records()  # the JSON is checked whole before any row
    line = _error_line(result.stderr)
    assert f"{dump}, line {len(ids)}: is not valid JSON (Input data was truncated)" in line
    assert result.peak_rss_mb < RSS_CAP_MB
