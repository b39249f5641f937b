"""Bad exports: every error names the file and line; skip_bad_rows reports every skip."""

from __future__ import annotations

import logging
import typing as t
import zipfile
from pathlib import Path

import pytest

from tap_pocket.export import ExportError, ExportReader, detect_kind

FIXTURES = Path(__file__).parent / "fixtures" / "export"
HEADER = b"title,url,time_added,tags,status\n"
GOOD_ROW = b"Good,https://example.com/good,1600000000,,unread\n"


def _logger() -> logging.Logger:
    return logging.getLogger("tests.export.errors")


def write_csv(tmp_path: Path, *rows: bytes, header: bytes = HEADER) -> Path:
    path = tmp_path / "part_000000.csv"
    path.write_bytes(header + b"".join(rows))
    return path


def read_error(path: Path, stream: str = "items") -> ExportError:
    reader = ExportReader(path)
    with pytest.raises(ExportError) as caught:
        list(getattr(reader, stream)())
    return caught.value


def titles(path: Path, **kwargs: t.Any) -> list[str]:
    return [row["given_title"] for row in ExportReader(path, logger=_logger(), **kwargs).items()]


# Not an export ---------------------------------------------------------------------------


def test_missing_path_names_the_export_path_setting(tmp_path: Path) -> None:
    error = read_error(tmp_path / "nowhere.zip")

    assert str(tmp_path / "nowhere.zip") in str(error)
    assert "export_path" in str(error)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "is not a Pocket export: expected pocket.zip"),
        (b"name,link,added\nx,https://e.com/,1\n", "is not a Pocket export"),
        (b"<html><body><a href='https://e.com/'>bookmark</a></body></html>", "not a Pocket"),
        (b"", "the file is empty"),
    ],
)
def test_a_file_that_is_not_an_export(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "pocket.zip"
    path.write_bytes(content)

    with pytest.raises(ExportError, match=expected) as caught:
        detect_kind(path)
    assert str(caught.value).startswith(str(path))
    assert str(read_error(path)) == str(caught.value)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b'{"status": 1, "complete": 1}', "not a Pocket export: expected a saved /v3/get"),
        (b'[{"url": "https://e.com/", "title": "t", "highlights": []}]', "annotations file"),
        (b"[1, 2]", "not a Pocket export"),
    ],
)
def test_json_that_is_not_an_api_dump(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "dump.json"
    path.write_bytes(content)

    assert expected in str(read_error(path))
    assert f"{path}, line 1:" in str(read_error(path, "highlights"))


def test_a_folder_without_export_files(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")

    error = read_error(tmp_path)
    assert str(error).startswith(f"{tmp_path}: holds no part_*.csv")


def test_a_csv_header_without_the_status_column(tmp_path: Path) -> None:
    path = write_csv(tmp_path, b"T,https://e.com/,1600000000\n", header=b"title,url,time_added\n")

    error = read_error(path)
    assert str(error).startswith(f"{path}, line 1: the CSV header lacks tags, status")
    with pytest.raises(ExportError, match="lacks tags, status"):
        titles(path, skip_bad_rows=True)  # a bad header is not a bad row


# Damaged zips ----------------------------------------------------------------------------


def _zip_with_parts(path: Path, compression: int) -> Path:
    with zipfile.ZipFile(path, "w", compression) as archive:
        archive.writestr("part_000000.csv", HEADER + GOOD_ROW)
        rows = b"".join(
            b"T%d,https://example.com/%d,1600000000,,unread\n" % (n, n) for n in range(200)
        )
        archive.writestr("part_000001.csv", HEADER + rows)
    return path


def _flip_a_byte_of_member(path: Path, name: str) -> None:
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(name)
    data = bytearray(path.read_bytes())
    name_length = int.from_bytes(data[info.header_offset + 26 : info.header_offset + 28], "little")
    extra_length = int.from_bytes(data[info.header_offset + 28 : info.header_offset + 30], "little")
    start = info.header_offset + 30 + name_length + extra_length
    data[start + info.compress_size // 2] ^= 0x01
    path.write_bytes(bytes(data))


def test_a_truncated_zip_is_damaged(tmp_path: Path) -> None:
    path = _zip_with_parts(tmp_path / "pocket.zip", zipfile.ZIP_DEFLATED)
    path.write_bytes(path.read_bytes()[:200])

    error = read_error(path)
    assert str(error).startswith(f"{path}: the zip file is damaged")
    assert "download your Pocket export again" in str(error)


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_a_zip_member_failing_its_check_names_zip_member_and_line(
    tmp_path: Path, compression: int
) -> None:
    path = _zip_with_parts(tmp_path / "pocket.zip", compression)
    _flip_a_byte_of_member(path, "part_000001.csv")

    reader = ExportReader(path, skip_bad_rows=True)  # damage is fatal even then
    rows = reader.items()
    assert next(rows)["given_title"] == "Good"  # part_000000.csv is intact
    with pytest.raises(ExportError) as caught:
        list(rows)
    assert caught.value.file == f"{path}:part_000001.csv"
    assert caught.value.line is not None
    assert f"{path}:part_000001.csv, line {caught.value.line}: this zip member is damaged" in (
        str(caught.value)
    )


# Bad rows --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (b"Two,https://example.com/2,1600000000,unread\n", "expected 5 fields, found 4"),
        (b"Two,https://example.com/2,1600000000,,unread,extra\n", "expected 5 fields, found 6"),
        (b"Two,https://example.com/2,,,unread\n", "time_added is empty"),
        (
            b"Two,https://example.com/2,yesterday,,unread\n",
            "time_added 'yesterday' is not a unix timestamp",
        ),
        (b"Two,https://example.com/2,NaN,,unread\n", "time_added 'NaN' is not a unix timestamp"),
        (
            b"Two,https://example.com/2,1e400,,unread\n",
            "time_added 1e400 is not a date between 2000 and 2100",
        ),
        (
            b"Two,https://example.com/2,20200913,,unread\n",
            "time_added 20200913 is not a date between 2000 and 2100",
        ),
        (
            b"Two,https://example.com/2,1600000000,,favorite\n",
            "unknown status 'favorite' (expected unread or archive)",
        ),
        (b"Two,https://example.com/2,1600000000,,\n", "unknown status ''"),
        (b"Two,  ,1600000000,,unread\n", "the url field is empty"),
        (b"Caf\xe9,https://example.com/2,1600000000,,unread\n", "invalid UTF-8 (bytes e9)"),
        (b"Two,https://example.com/\xff\xfe,1600000000,,unread\n", "invalid UTF-8 (bytes ff fe)"),
    ],
)
def test_a_bad_csv_row_names_file_line_and_reason(tmp_path: Path, row: bytes, reason: str) -> None:
    path = write_csv(tmp_path, GOOD_ROW, row, b"Three,https://example.com/3,1600000000,,unread\n")

    error = read_error(path)
    assert str(error) == f"{path}, line 3: {error.reason}"
    assert reason in error.reason
    assert error.line == 3

    assert titles(path, skip_bad_rows=True) == ["Good", "Three"]


def test_a_quoted_multiline_record_reports_its_physical_lines(tmp_path: Path) -> None:
    path = write_csv(tmp_path, GOOD_ROW, b'"Title\n\nacross lines",https://e.com/,soon,,unread\n')

    error = read_error(path)
    assert (error.line, error.end_line) == (3, 5)
    assert str(error).startswith(f"{path}, lines 3-5: time_added 'soon'")


def test_line_numbers_count_the_newlines_inside_real_titles(tmp_path: Path) -> None:
    sample = (FIXTURES / "wallabag_pocket_export_2025.csv").read_bytes()  # 10 physical lines
    path = tmp_path / "part_000000.csv"
    path.write_bytes(sample + b"\nLast,https://e.com/last,1600000000,,deleted\n")

    error = read_error(path)
    assert str(error) == f"{path}, line 11: unknown status 'deleted' (expected unread or archive)"


def test_invalid_utf8_far_into_a_file_names_its_line(tmp_path: Path) -> None:
    rows = [b"T%d,https://example.com/%d,1600000000,,unread\n" % (n, n) for n in range(5000)]
    rows[4321] = b"T\xc3(,https://example.com/bad,1600000000,,unread\n"
    path = write_csv(tmp_path, *rows)

    error = read_error(path)
    assert error.line == 4323  # header + 4321 rows before it
    assert "invalid UTF-8 (bytes c3)" in str(error)
    assert len(titles(path, skip_bad_rows=True)) == 4999


def test_skip_bad_rows_logs_each_skip_and_a_summary(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_csv(
        tmp_path,
        GOOD_ROW,
        b"Bad time,https://example.com/1,never,,unread\n",
        b"Bad status,https://example.com/2,1600000000,,starred\n",
        b"Fine,https://example.com/3,1600000000,a|b,archive\n",
        b"Short,https://example.com/4\n",
    )
    with caplog.at_level(logging.INFO, logger="tests.export.errors"):
        kept = titles(path, skip_bad_rows=True)

    assert kept == ["Good", "Fine"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        (
            f"Skipped a bad items row (skip_bad_rows): {path}, line 3: time_added 'never' is "
            "not a unix timestamp (seconds since 1970)"
        ),
        (
            f"Skipped a bad items row (skip_bad_rows): {path}, line 4: unknown status 'starred' "
            "(expected unread or archive)"
        ),
        (
            f"Skipped a bad items row (skip_bad_rows): {path}, line 6: expected 5 fields, found 2 "
            "(a stray comma, or a quote that is not closed?)"
        ),
        f"Skipped 3 bad items row(s) of {path} (skip_bad_rows); each is logged above",
    ]


def test_an_unclosed_quote_swallows_the_rest_and_is_reported(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path,
        GOOD_ROW,
        b'"Unclosed,https://e.com/1,1600000000,,unread\n',
        b"Next,https://e.com/2,1600000000,,unread\n",
    )

    error = read_error(path)
    assert (error.line, error.end_line) == (3, 4)
    assert "a quote that is not closed?" in str(error)


# Bad HTML links --------------------------------------------------------------------------


def test_bad_links_in_ril_export_html(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "ril_export.html"
    path.write_text(
        "<h1>Unread</h1>\n<ul>\n"
        '<li><a href="https://e.com/1" time_added="1600000000" tags="">One</a></li>\n'
        '<li><a href="https://e.com/2" tags="">No time</a></li>\n'
        '<li><a href="https://e.com/3" time_added="later" tags="">Bad time</a></li>\n'
        '<li><a href="" time_added="1600000000" tags="">No URL</a></li>\n'
        "</ul>\n<h1>Favorites</h1>\n<ul>\n"
        '<li><a href="https://e.com/5" time_added="1600000000" tags="">Elsewhere</a></li>\n'
        "</ul>\n",
        encoding="utf-8",
    )

    error = read_error(path)
    assert str(error) == f"{path}, line 4: the link has no time_added attribute"

    with caplog.at_level(logging.WARNING, logger="tests.export.errors"):
        assert titles(path, skip_bad_rows=True) == ["One"]
    messages = [r.getMessage() for r in caplog.records]
    assert f"{path}, line 5: time_added 'later' is not a unix timestamp" in messages[1]
    assert f"{path}, line 6: the link has no href (URL)" in messages[2]
    assert (
        f"{path}, line 10: a link under the heading 'Favorites': expected it in the Unread "
        "or Read Archive list"
    ) in messages[3]
    assert "Skipped 4 bad items row(s)" in messages[4]


def test_invalid_utf8_in_ril_export_html(tmp_path: Path) -> None:
    path = tmp_path / "ril_export.html"
    path.write_bytes(
        b"<h1>Unread</h1>\n<ul>\n"
        b'<li><a href="https://e.com/1" time_added="1600000000" tags="">Caf\xe9</a></li>\n'
        b"</ul>\n"
    )

    assert str(read_error(path)) == (
        f"{path}, line 3: invalid UTF-8 (bytes e9): Pocket exports are UTF-8 text; was the file "
        "re-saved in another encoding?"
    )


# Bad annotations -------------------------------------------------------------------------


def _export_with_annotations(tmp_path: Path, annotations: bytes) -> Path:
    folder = tmp_path / "export"
    (folder / "annotations").mkdir(parents=True)
    (folder / "part_000000.csv").write_bytes(HEADER + GOOD_ROW)
    (folder / "annotations" / "part_000000.json").write_bytes(annotations)
    return folder


GOOD_ENTRY = (
    b'{"url":"https://example.com/good","title":"Good","highlights":'
    b'[{"quote":"q","created_at":1600000000}]}'
)


@pytest.mark.parametrize(
    ("annotations", "line", "reason"),
    [
        (b'{"url": "https://e.com/"}', 1, "expected a JSON array of {url, title, highlights"),
        (b"[" + GOOD_ENTRY + b',\n{"url": ', 2, "is not valid JSON (Expecting value"),
        (
            b"[" + GOOD_ENTRY + b"\n\n" + GOOD_ENTRY + b"]",
            3,
            "is not valid JSON (expected ',' or ']' in the array)",
        ),
        (b"[" + GOOD_ENTRY + b"] trailing", 1, "is not valid JSON (text after the array's end)"),
        (b"[\xff]", 1, "invalid UTF-8 (bytes ff)"),
    ],
)
def test_an_annotations_file_that_is_not_the_expected_json(
    tmp_path: Path, annotations: bytes, line: int, reason: str
) -> None:
    folder = _export_with_annotations(tmp_path, annotations)
    name = f"{folder}/annotations/part_000000.json"

    error = read_error(folder, "highlights")
    assert str(error).startswith(f"{name}, line {line}: {reason}")
    with pytest.raises(ExportError):  # a broken file is fatal even with skip_bad_rows
        list(ExportReader(folder, skip_bad_rows=True).highlights())


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        (b'"just a url"', "entry 2: expected an object {url, title, highlights}"),
        (b'{"title":"t","highlights":[]}', "entry 2: the entry's url must be a non-empty text"),
        (b'{"url":"https://e.com/","highlights":{}}', "entry 2: the entry's highlights must be"),
        (
            b'{"url":"https://e.com/","highlights":[{"quote":"q","created_at":"soon"}]}',
            "entry 2, highlight 1: the highlight's created_at 'soon' is not a time",
        ),
        (
            b'{"url":"https://e.com/","highlights":[{"created_at":1600000000}]}',
            "entry 2, highlight 1: the highlight's quote must be text, found None",
        ),
        (
            b'{"url":"https://e.com/","highlights":[7]}',
            "entry 2, highlight 1: a highlight must be a JSON object",
        ),
    ],
)
def test_a_bad_annotation_entry_names_file_line_and_entry(
    tmp_path: Path, entry: bytes, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    folder = _export_with_annotations(tmp_path, b"[" + GOOD_ENTRY + b",\n" + entry + b"]")
    name = f"{folder}/annotations/part_000000.json"

    assert str(read_error(folder, "highlights")).startswith(f"{name}, line 2: {reason}")

    reader = ExportReader(folder, skip_bad_rows=True, logger=_logger())
    with caplog.at_level(logging.WARNING, logger="tests.export.errors"):
        kept = list(reader.highlights())
    assert [row["quote"] for row in kept] == ["q"]
    assert [r.getMessage() for r in caplog.records][-1] == (
        f"Skipped 1 bad highlights row(s) of {folder} (skip_bad_rows); each is logged above"
    )
