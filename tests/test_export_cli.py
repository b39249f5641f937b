"""The real ``tap-pocket`` CLI on exports: Singer messages on stdout, errors and exit codes."""

from __future__ import annotations

import typing as t
from collections import Counter
from pathlib import Path

from tests.fixtures.export import generate

from .conftest import SyncOutput, run_cli

FIXTURES = Path(__file__).parent / "fixtures" / "export"


def run_tap(tmp_path: Path, config: dict[str, t.Any]) -> tuple[int, SyncOutput, str]:
    """Exit code, stdout's Singer messages and stderr of one real ``tap-pocket`` run."""
    result = run_cli(config=config, tmp_path=tmp_path)
    return result.returncode, result.output, result.stderr


def test_cli_loads_a_generated_pocket_zip(tmp_path: Path) -> None:
    written = generate.write_synthetic_export(
        tmp_path / "pocket.zip", 1_200, parts_of=500, annotations=25, duplicates=4
    )

    code, output, stderr = run_tap(tmp_path, {"export_path": str(written.path)})

    assert code == 0, stderr
    counts = Counter((m["type"], m.get("stream")) for m in output.messages if m["type"] != "STATE")
    assert counts == {
        ("SCHEMA", "items"): 1,
        ("SCHEMA", "highlights"): 1,
        ("RECORD", "items"): written.unique_items,
        ("RECORD", "highlights"): written.highlights,
    }
    items = output.records["items"]
    assert Counter(item["status"] for item in items) == {
        "unread": written.unread,
        "archived": written.archived,
    }
    item_ids = {item["item_id"] for item in items}
    assert {h["item_id"] for h in output.records["highlights"]} <= item_ids
    assert "Skipped 4 duplicate items row(s)" in stderr


def test_cli_loads_ril_export_html(tmp_path: Path) -> None:
    html = FIXTURES / "pickpocket_ril_export_2020-08.html"

    code, output, stderr = run_tap(tmp_path, {"export_path": str(html)})

    assert code == 0, stderr
    assert len(output.records["items"]) == 421
    assert output.records["highlights"] == []


def test_cli_stops_with_an_error_at_a_bad_row_after_writing_the_rows_before(
    tmp_path: Path,
) -> None:
    path = tmp_path / "part_000000.csv"
    path.write_text(
        "title,url,time_added,tags,status\n"
        "One,https://example.com/1,1600000000,,unread\n"
        "Two,https://example.com/2,1600000001,,archive\n"
        "Bad,https://example.com/3,not-a-time,,unread\n"
        "Four,https://example.com/4,1600000003,,unread\n",
        encoding="utf-8",
    )

    code, output, stderr = run_tap(tmp_path, {"export_path": str(path)})

    assert code != 0
    assert [item["given_title"] for item in output.records["items"]] == ["One", "Two"]
    assert f"{path}, line 4: time_added 'not-a-time' is not a unix timestamp" in stderr

    code, output, stderr = run_tap(tmp_path, {"export_path": str(path), "skip_bad_rows": True})

    assert code == 0, stderr
    assert [item["given_title"] for item in output.records["items"]] == ["One", "Two", "Four"]
    assert f"Skipped a bad items row (skip_bad_rows): {path}, line 4" in stderr
    assert "Skipped 1 bad items row(s)" in stderr


def test_cli_fails_on_a_file_that_is_not_an_export(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF")

    code, output, stderr = run_tap(tmp_path, {"export_path": str(path)})

    assert code != 0
    assert output.records["items"] == []
    assert f"{path}: this is not a Pocket export" in stderr
