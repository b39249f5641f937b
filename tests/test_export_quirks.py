"""Real exports that were refused or mis-read (issue #20, items 1-5), through the real CLI.

Each numbered case runs ``tap-pocket`` as a subprocess and checks its exit code, the rows
it emits against the rows expected, and that no traceback reaches stderr:

1. a ``ril_export.html`` link whose URL holds a line break (or ``>``, ``'``, entities,
   non-ASCII) loads, with the ``given_url`` and ``item_id`` the CSV export gives it; a
   tag HTML reads with a parse error is still a damaged link;
2. ``time_added`` written ``1600000000.0`` or ``1.6e9`` is that second; a fraction is
   rounded down, with one WARNING per run naming the first;
3. a CSV with CR-only line ends given on its own loads as it does inside a zip;
4. a folder whose only entry is the export's folder loads like the zip; a folder that
   is not an export (nor one level down) is refused with the usual message;
5. README's stream map (``status == "unread"`` on ``items``) drops the highlights of the
   items it drops, whether or not ``items`` is selected.
"""

from __future__ import annotations

import html
import json
import shutil
import typing as t
import zipfile

import pytest

from tap_pocket.export import derive_item_id
from tests.fixtures.export import generate
from tests.fixtures.export.hostile import csv_text, ril_export_html

from .conftest import ROOT, CliResult, run_cli
from .test_items_api import TapCatalog

if t.TYPE_CHECKING:
    from pathlib import Path

README_FILTER = {"items": {"__filter__": 'status == "unread"'}}


def run(tmp_path: Path, config: dict[str, t.Any], *args: str) -> CliResult:
    """One real run; never a traceback, whatever the exit code."""
    result = run_cli(*args, config=config, tmp_path=tmp_path)
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    return result


def loaded(result: CliResult, stream: str = "items") -> list[dict[str, t.Any]]:
    assert result.returncode == 0, result.stderr[-3000:]
    return result.output.records[stream]


def warnings_about(result: CliResult, text: str) -> list[str]:
    return [line for line in result.stderr.splitlines() if "WARNING" in line and text in line]


# 1. ril_export.html: any attribute value HTML allows -----------------------------------

#: URLs as Pocket stored them (a share sheet's line break inside a query string, ...).
UNUSUAL_URLS = {
    264: "https://example.com/share?text=first line\nsecond line&utm=x",
    300: "https://example.com/crlf?q=a\r\nb",
    1000: "https://example.com/a>b?x='quoted'&y=<z>",
    1500: "https://example.com/café/日本語?q=naïve",
    2000: "https://example.com/leak?a=1&amp;b=2",
    2500: "https://example.com/copy?a=1&copy=2&region=eu",
}


def links_3000() -> list[tuple[str, str, int, str]]:
    """3,000 links (url, title, time_added, tags), some with unusual URLs."""
    return [
        (UNUSUAL_URLS.get(n, f"https://example.com/{n}"), f"Link {n}", 1_600_000_000 + n, "a,b")
        for n in range(3000)
    ]


def raw_attribute_html(links: list[tuple[str, str, int, str]]) -> str:
    """ril_export.html with each URL written raw but for ``&`` and ``"``.

    A line break, ``>``, ``'`` and ``<`` are valid inside a double-quoted value.
    """
    items = "".join(
        f'<li><a href="{url.replace("&", "&amp;").replace(chr(34), "&quot;")}" '
        f'time_added="{added}" tags="{html.escape(tags)}">{html.escape(title)}</a></li>\n'
        for url, title, added, tags in links
    )
    return ril_export_html([]).replace("<ul>\n", "<ul>\n" + items, 1)


def test_1_html_links_with_line_breaks_and_any_attribute_value_load(tmp_path: Path) -> None:
    links = links_3000()
    html_path = tmp_path / "ril_export.html"
    html_path.write_text(raw_attribute_html(links), encoding="utf-8", newline="")
    csv_path = tmp_path / "part_000000.csv"
    csv_path.write_text(
        csv_text(
            (title, url, str(added), tags.replace(",", "|"), "unread")
            for url, title, added, tags in links
        ),
        encoding="utf-8",
        newline="",
    )

    from_html = loaded(run(tmp_path, {"export_path": str(html_path)}))
    from_csv = loaded(run(tmp_path, {"export_path": str(csv_path)}))

    assert len(from_html) == len(links) == 3000
    assert from_html == from_csv  # the same given_url and item_id from either export
    by_title = {row["given_title"]: row for row in from_html}
    for n, url in UNUSUAL_URLS.items():
        row = by_title[f"Link {n}"]
        expected = url.replace("&amp;", "&")  # the leaked entity decoded, as in CSV
        assert row["given_url"] == expected, n
        assert row["item_id"] == derive_item_id(url)
    assert by_title["Link 264"]["given_url"] == (
        "https://example.com/share?text=first line\nsecond line&utm=x"
    )
    assert by_title["Link 2500"]["given_url"].endswith("&copy=2&region=eu")  # not ©=2


def test_1_an_html_tag_broken_by_html_rules_is_a_damaged_link(tmp_path: Path) -> None:
    links = links_3000()
    text = ril_export_html(links)
    # Link 265's href loses its closing quote: HTML reads `time_added="` as the end of
    # its value, then a name with a quote in it: parse errors, a damaged tag.
    broken = text.replace('href="https://example.com/265"', 'href="https://example.com/265', 1)
    path = tmp_path / "ril_export.html"
    path.write_text(broken, encoding="utf-8")
    line = broken[: broken.index("https://example.com/265")].count("\n") + 1

    failed = run(tmp_path, {"export_path": str(path)})
    skipped = run(tmp_path, {"export_path": str(path), "skip_bad_rows": True})

    assert failed.returncode == 1
    assert f"{path}, line {line}: the link's tag is damaged" in failed.stderr
    assert "missing-whitespace-between-attributes" in failed.stderr
    assert [row["given_title"] for row in failed.output.records["items"]] == [
        f"Link {n}" for n in range(265)
    ]
    rows = loaded(skipped)
    assert [row["given_title"] for row in rows] == [f"Link {n}" for n in range(3000) if n != 265]


# 2. time_added written as a float -------------------------------------------------------


def test_2_time_added_as_a_float_is_that_second_and_a_fraction_is_rounded_down(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "pocket"
    folder.mkdir()
    written = ["1600000000.0", "1.6e9", "1600000000.75", "1600000001", "16000000019e-1"]
    (folder / "part_000000.csv").write_text(
        csv_text(
            (f"T{n}", f"https://example.com/{n}", value, "", "unread")
            for n, value in enumerate(written)
        ),
        encoding="utf-8",
    )
    (folder / "part_000001.csv").write_text(
        csv_text([("Later", "https://example.com/later", "1600000002.5", "", "archive")]),
        encoding="utf-8",
    )

    result = run(tmp_path, {"export_path": str(folder)})

    rows = loaded(result)
    assert [row["time_added"] for row in rows] == [
        "2020-09-13T12:26:40+00:00",
        "2020-09-13T12:26:40+00:00",
        "2020-09-13T12:26:40+00:00",
        "2020-09-13T12:26:41+00:00",
        "2020-09-13T12:26:41+00:00",
        "2020-09-13T12:26:42+00:00",
    ]
    (warning,) = warnings_about(result, "fraction of a second")  # once per run
    assert f"{folder / 'part_000000.csv'}, line 4: time_added '1600000000.75'" in warning


def test_2_html_time_added_as_a_float(tmp_path: Path) -> None:
    path = tmp_path / "ril_export.html"
    path.write_text(
        ril_export_html([("https://e.com/1", "One", 1, ""), ("https://e.com/2", "Two", 2, "")])
        .replace('time_added="1"', 'time_added="1.6e9"')
        .replace('time_added="2"', 'time_added="1600000000.9999999999"'),
        encoding="utf-8",
    )

    result = run(tmp_path, {"export_path": str(path)})

    assert [row["time_added"] for row in loaded(result)] == ["2020-09-13T12:26:40+00:00"] * 2
    (warning,) = warnings_about(result, "fraction of a second")
    assert f"{path}, line 12: time_added '1600000000.9999999999'" in warning


# 3. A CR-only CSV given on its own ------------------------------------------------------


def test_3_a_csv_with_cr_only_line_ends_loads_on_its_own_as_in_a_zip(tmp_path: Path) -> None:
    rows = [
        ("Plain", "https://example.com/1", "1600000000", "a|b", "unread"),
        ('Two\rlines, "quoted"', "https://example.com/2", "1600000001", "", "archive"),
    ]
    data = csv_text(rows).replace("\n", "\r").encode()
    path = tmp_path / "part_000000.csv"
    path.write_bytes(data)
    zipped = tmp_path / "pocket.zip"
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("part_000000.csv", data)

    alone = loaded(run(tmp_path, {"export_path": str(path)}))
    in_zip = loaded(run(tmp_path, {"export_path": str(zipped)}))

    assert alone == in_zip
    assert [row["given_title"] for row in alone] == ["Plain", 'Two\rlines, "quoted"']


# 4. The export one folder down ----------------------------------------------------------


def test_4_a_folder_with_the_export_one_level_down_loads_like_the_zip(tmp_path: Path) -> None:
    written = generate.write_synthetic_export(tmp_path / "pocket.zip", 600, annotations=20)
    downloads = tmp_path / "Downloads" / "pocket"
    with zipfile.ZipFile(written.path) as archive:
        archive.extractall(downloads / "pocket")  # what unzipping into a folder of its own gives
    (downloads / "__MACOSX").mkdir()
    (downloads / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")

    from_zip = run(tmp_path, {"export_path": str(written.path)})
    from_folder = run(tmp_path, {"export_path": str(downloads)})

    assert loaded(from_folder) == loaded(from_zip)
    assert len(loaded(from_folder)) == written.unique_items
    assert loaded(from_folder, "highlights") == loaded(from_zip, "highlights")
    assert len(loaded(from_folder, "highlights")) == written.highlights


@pytest.mark.parametrize("layout", ["two levels down", "beside another folder", "no export"])
def test_4_a_folder_that_is_not_an_export_is_refused(tmp_path: Path, layout: str) -> None:
    folder = tmp_path / "Downloads"
    inner = {
        "two levels down": folder / "pocket" / "pocket",
        "beside another folder": folder / "pocket",
        "no export": folder / "photos",
    }[layout]
    inner.mkdir(parents=True)
    if layout == "no export":
        (inner / "cat.jpg").write_bytes(b"\xff\xd8\xff")
    else:
        (inner / "part_000000.csv").write_text(csv_text([]), encoding="utf-8")
    if layout == "beside another folder":
        (folder / "photos").mkdir()

    result = run(tmp_path, {"export_path": str(folder)})

    assert result.returncode == 1
    assert result.output.records["items"] == []
    assert f"{folder}: holds no part_*.csv, annotations/part_*.json or ril_export.html" in (
        result.stderr
    )


# 5. An items filter drops the highlights of the items it drops ------------------------


@pytest.mark.parametrize("selected", ["both", "highlights only"])
def test_5_readme_items_filter_drops_the_highlights_of_dropped_items(
    tmp_path: Path, selected: str
) -> None:
    written = generate.write_synthetic_export(tmp_path / "pocket.zip", 900, annotations=60)
    config = {"export_path": str(written.path)}
    everything = run(tmp_path, config)
    unread = {row["item_id"] for row in loaded(everything) if row["status"] == "unread"}
    expected = [h for h in loaded(everything, "highlights") if h["item_id"] in unread]
    assert 0 < len(expected) < written.highlights
    catalog = None
    if selected == "highlights only":
        catalog = TapCatalog.selecting(config, {"highlights"})
        (tmp_path / "catalog.json").write_text(json.dumps(catalog))

    args = ("--catalog", str(tmp_path / "catalog.json")) if catalog else ()
    result = run(tmp_path, {**config, "stream_maps": README_FILTER}, *args)

    items = loaded(result)
    assert len(items) == (0 if catalog else len(unread))
    assert loaded(result, "highlights") == expected


def test_5_readme_example_on_the_demo_export(tmp_path: Path) -> None:
    demo = ROOT / "demo" / "pocket.zip"
    shutil.copy(demo, tmp_path / "pocket.zip")

    config = {"export_path": str(tmp_path / "pocket.zip"), "stream_maps": README_FILTER}
    result = run(tmp_path, config)

    assert len(loaded(result)) == 17
    assert loaded(result, "highlights") == []  # all 9 belong to archived (dropped) items
