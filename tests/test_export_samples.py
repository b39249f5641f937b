"""The export reader on real Pocket exports and API dumps (tests/fixtures/export/README.md)."""

from __future__ import annotations

import csv
import http.server
import json
import re
import threading
import typing as t
from collections import Counter
from email.utils import formatdate
from html import unescape
from pathlib import Path

import pytest

from tap_pocket.export import (
    ExportError,
    ExportKind,
    ExportReader,
    derive_item_id,
    detect_kind,
    dumps,
)
from tap_pocket.rows import HIGHLIGHT_COLUMNS as HIGHLIGHT_FIELDS
from tap_pocket.rows import ITEM_COLUMNS as ITEM_FIELDS
from tap_pocket.timestamps import parse_timestamp
from tests.conftest import run_tap
from tests.support import completed, send_json

FIXTURES = Path(__file__).parent / "fixtures" / "export"

#: Columns an export (CSV or HTML) fills; every other one must stay null.
EXPORT_COLUMNS = {
    "item_id",
    "given_url",
    "given_title",
    "status",
    "time_added",
    "time_updated",
    "tags",
}


def read_items(name: str | Path) -> list[dict[str, t.Any]]:
    return [completed(row, ITEM_FIELDS) for row in ExportReader(FIXTURES / name).items()]


def read_highlights(name: str | Path) -> list[dict[str, t.Any]]:
    rows = ExportReader(FIXTURES / name).highlights()
    return [completed(row, HIGHLIGHT_FIELDS) for row in rows]


def assert_export_rows(rows: list[dict[str, t.Any]]) -> None:
    """Complete rows; exports fill only what they hold, and ids follow the URL."""
    for row in rows:
        assert tuple(row) == ITEM_FIELDS
        assert {key for key, value in row.items() if value is not None} == EXPORT_COLUMNS
        assert row["item_id"] == derive_item_id(row["given_url"])
        assert re.fullmatch(r"u[0-9a-f]{16}", row["item_id"])
        assert row["time_updated"] == row["time_added"]


# 2024-2025 CSV -------------------------------------------------------------------------


def test_wallabag_csv_loads_every_row_with_its_values() -> None:
    rows = read_items("wallabag_pocket_export_2025.csv")

    assert_export_rows(rows)
    assert len(rows) == 7
    assert Counter(row["status"] for row in rows) == {"unread": 5, "archived": 2}
    assert all(row["tags"] == [] for row in rows)
    first = rows[0]
    assert first["given_title"] == "You Might Not Need jQuery"
    assert first["given_url"] == "http://youmightnotneedjquery.com/"
    assert first["time_added"] == "2020-09-17T06:06:28+00:00" == parse_timestamp("1600322788")
    # A title cut at 75 characters by Pocket, kept as exported.
    assert rows[1]["given_title"] == (
        "Est-ce que j\u2019ai besoin d\u2019un Scrum Master ? | by Jean-Pierre Lambert | Jean-"
    )
    # A URL with a literal & (not an entity) stays as it is.
    assert rows[4]["given_url"].endswith(
        "#utm_medium=distibuted&utm_source=rss&utm_campaign=646826"
    )
    assert rows[5]["status"] == "archived"


def test_wallabag_csv_title_with_embedded_blank_lines_and_no_trailing_newline() -> None:
    last = read_items("wallabag_pocket_export_2025.csv")[-1]

    assert last["given_title"] == (
        "Des abeilles pour résoudre les « conflits » entre les humains\n\net les élépha"
    )
    assert last["given_url"] == (
        "https://reporterre.net/Des-abeilles-pour-resoudre-les-conflits-entre-les-humains-et-"
        "les-elephants"
    )
    assert last["time_added"] == parse_timestamp(1599890673)


def test_both_csv_header_generations_give_the_same_row() -> None:
    new = read_items("shiori_testdata_pocket-new.csv")
    old = read_items("shiori_testdata_pocket-old.csv")  # with the cursor column

    assert new == old
    assert_export_rows(new)
    assert new[0]["given_title"] == "Shiori"
    assert new[0]["given_url"] == "https://github.com/go-shiori/shiori"
    assert new[0]["tags"] == ["shiori"]
    assert new[0]["status"] == "unread"
    assert new[0]["time_added"] == "2018-11-04T15:05:37+00:00"


def test_csv_exports_have_no_highlights() -> None:
    assert read_highlights("wallabag_pocket_export_2025.csv") == []


# Legacy ril_export.html ------------------------------------------------------------------

PICKPOCKET = "pickpocket_ril_export_2020-08.html"


def test_pickpocket_html_has_421_links_403_unread_18_archived() -> None:
    rows = read_items(PICKPOCKET)

    assert_export_rows(rows)
    assert len(rows) == 421
    assert len({row["item_id"] for row in rows}) == 421
    assert Counter(row["status"] for row in rows) == {"unread": 403, "archived": 18}
    raw = (FIXTURES / PICKPOCKET).read_text(encoding="utf-8")
    assert sum(bool(row["tags"]) for row in rows) == len(re.findall(r'tags="[^"]', raw)) == 82
    first, last = rows[0], rows[-1]
    assert first["given_title"].startswith("ഇന്നുമുതല്‍ നീ മനുഷ്യരെ")
    assert first["time_added"] == parse_timestamp(1597247575)
    assert last["given_title"] == (
        "Om Puri and Smita Patil\u2019s Ardh Satya is the only police drama you need to w"
    )
    assert (last["status"], last["tags"]) == ("archived", ["film"])


def test_pickpocket_html_decodes_entities_and_keeps_titles_as_exported() -> None:
    by_url = {row["given_url"]: row for row in read_items(PICKPOCKET)}

    assert by_url["https://urbigenous.net/library/how_to_build.html"]["given_title"] == (
        "How to Build a Universe That Doesn't Fall Apart Two Days Later"  # &#039;
    )
    assert by_url["https://youtu.be/5VdAceicMH4"]["given_title"] == (
        'Watch "Rahat Fateh Ali Khan - Man Kunto Maula" on YouTube'  # &quot;
    )
    quoted = by_url[
        "https://www.thecue.in/opinion/2020/06/06/covid-19-and-religious-groupsk-r-meeras-fb-post"
    ]
    assert quoted["given_title"].startswith("'")
    assert quoted["given_title"].endswith("'")
    # &amp; in href and in a title that is the URL.
    google = by_url[
        "https://www.google.com/url?sa=t&source=web&rct=j&url=https://amp.theguardian.com/world/"
        "2011/apr/23/try-to-leave-church-scientology-lawrence-wright&ved=2ahUKEwjx3Ke_uY_rAhWPF3"
        "IKHcXXAkQ4ChAWMAJ6BAgGEAI&usg=AOvVaw0lNHkAzUzYZqVSRVOPAbFc"
    ]
    assert google["given_title"] == google["given_url"]
    spaced = by_url["https://thefoundationblog.com/blog/8groundingrituals"]
    assert spaced["given_title"] == (
        "8 Simple (and Affordable!) Methods to Ground Yourself   Find Peace in Uncer"
    )


def test_pickpocket_html_tags_split_on_commas_with_spaces_inside() -> None:
    rows = read_items(PICKPOCKET)
    tags = Counter(tag for row in rows for tag in row["tags"])
    by_url = {row["given_url"]: row for row in rows}

    assert tags["machine learning"] == 1
    assert tags["short stories"] == 2
    assert tags["josy joseph"] == 1
    assert tags["pocket"] == 16
    sally_mann = (
        "https://www.nytimes.com/2015/04/19/magazine/the-disturbing-photography-of-sally-mann.html"
    )
    assert by_url[sally_mann]["tags"] == ["long", "longread"]  # tags="longread,long", sorted


def test_memex_html_empty_tags_and_empty_archive() -> None:
    rows = read_items("memex_ril_export_fixture.html")

    assert_export_rows(rows)
    assert [row["given_title"] for row in rows] == ["Facebook", "Home / Twitter", "Pocket: My List"]
    assert {row["status"] for row in rows} == {"unread"}
    assert all(row["tags"] == [] for row in rows)
    assert "&amp;" not in rows[0]["given_url"]
    assert rows[0]["given_url"].startswith(
        "https://www.facebook.com/photo.php?fbid=10156448680240936&set=ms.c."
    )
    assert rows[0]["given_url"].endswith("&type=3&theater")


def test_wallabag_html() -> None:
    rows = read_items("wallabag_ril_export.html")

    assert_export_rows(rows)
    assert [row["given_title"] for row in rows] == [
        "Tarn : Des lapins ravagent le terrain, le match de rugby doit être annulé",
        "JO Paris 2024 : Où courir dans la capitale maintenant que les quais sont fermés ?",
    ]
    assert [row["tags"] for row in rows] == [["ifttt", "new_entry_simple"]] * 2
    assert [row["time_added"] for row in rows] == [
        parse_timestamp(1688628695),
        parse_timestamp(1688627412),
    ]


def _csv_of_the_same_account(html_path: Path, csv_path: Path) -> None:
    """Write the links of a ril_export.html as Pocket's 2025 CSV would hold them.

    The raw attribute and text values are copied still escaped: that is how ``&amp;``
    (and ``&#039;``) leak into the CSV export.
    """
    link = re.compile(r'<a href="([^"]*)" time_added="(\d+)" tags="([^"]*)">(.*?)</a>', re.DOTALL)
    html = html_path.read_text(encoding="utf-8")
    archive_at = html.index("<h1>Read Archive</h1>")
    with csv_path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(["title", "url", "time_added", "tags", "status"])
        for match in link.finditer(html):
            href, added, tags, title = match.groups()
            status = "archive" if match.start() > archive_at else "unread"
            writer.writerow([title, href, added, "|".join(unescape(tags).split(",")), status])


def test_csv_and_html_of_the_same_account_give_the_same_ids_and_rows(tmp_path: Path) -> None:
    csv_path = tmp_path / "part_000000.csv"
    _csv_of_the_same_account(FIXTURES / PICKPOCKET, csv_path)
    assert "&amp;" in csv_path.read_text(encoding="utf-8")

    from_html = read_items(PICKPOCKET)
    from_csv = [completed(row, ITEM_FIELDS) for row in ExportReader(csv_path).items()]

    assert len(from_csv) == 421
    assert [row["item_id"] for row in from_csv] == [row["item_id"] for row in from_html]
    assert from_csv == from_html


# API dumps: the same rows as the live API path --------------------------------------------


class _PocketStub(http.server.ThreadingHTTPServer):
    """Serves one saved /v3/get response as Pocket did, then an empty page."""

    def __init__(self, body: dict[str, t.Any]) -> None:
        super().__init__(("127.0.0.1", 0), _PocketStubHandler)
        self.body = body

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _PocketStubHandler(http.server.BaseHTTPRequestHandler):
    server: _PocketStub

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        body = self.server.body
        if request.get("offset"):
            body = {"status": 2, "complete": 1, "list": [], "since": body.get("since")}
        send_json(self, body)

    def date_time_string(self, timestamp: float | None = None) -> str:  # noqa: ARG002 (base's)
        # Pocket's clock: a saved response's `since` is when Pocket answered it.
        since = self.server.body.get("since")
        return formatdate(float(since), usegmt=True) if since else super().date_time_string()

    def log_message(self, format: str, *args: t.Any) -> None:  # noqa: A002 (the base's name)
        pass


def api_path_rows(body: dict[str, t.Any]) -> tuple[list[dict], list[dict]]:
    """``items`` and ``highlights`` rows of the live API path for a served response."""
    server = _PocketStub(body)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        # A whole sync: the API path hands each item's highlights to its child stream.
        output = run_tap(
            {
                "consumer_key": "key",
                "access_token": "token",
                "api_url": server.url,
                "page_size": 5000,
            }
        )
        items: list[t.Any] = output.records["items"]
        highlights: list[t.Any] = output.records["highlights"]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    return items, highlights


@pytest.mark.parametrize(
    ("name", "items", "highlights"),
    [
        ("karlicoss_pockexport_example_output_2025.json", 2, 2),
        ("correlaid_pocketapi_get_53items_vignette.json", 53, 0),
        ("memory_jogger_get_since_sync_deleted_item_status2.json", 1, 0),
        ("memory_jogger_get_last_page_empty_list_array.json", 0, 0),
    ],
)
@pytest.mark.parametrize("reading", ["whole", "in batches"])
def test_api_dump_gives_the_same_rows_as_the_api_path(
    name: str, items: int, highlights: int, reading: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Either way a dump is read (whole up to DUMP_CAP, else in batches), the same rows."""
    if reading == "in batches":  # every dump over the cap, two entries a batch
        monkeypatch.setattr(dumps, "DUMP_CAP", 0)
        monkeypatch.setattr(dumps, "BATCH_ENTRIES", 2)
    body = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    assert detect_kind(FIXTURES / name) is ExportKind.API_JSON

    expected_items, expected_highlights = api_path_rows(body)
    dump_items, dump_highlights = read_items(name), read_highlights(name)

    assert dump_items == expected_items
    assert dump_highlights == expected_highlights
    assert (len(dump_items), len(dump_highlights)) == (items, highlights)


def test_karlicoss_dump_values_and_annotations() -> None:
    name = "karlicoss_pockexport_example_output_2025.json"
    items = {row["item_id"]: row for row in read_items(name)}
    highlights = read_highlights(name)

    assert items["1042711293"]["resolved_id"] == "3656679773"
    assert items["1042711293"]["tags"] == ["quantum"]
    assert items["1949330650"]["tags"] == []
    assert [row["highlight_id"] for row in highlights] == [
        "6d39b7e5-ddcc-463f-8c56-04f2e610704e",
        "95c65b32-36bc-487d-888c-6b634a00ba45",
    ]
    assert {row["item_id"] for row in highlights} == {"1949330650"}
    assert highlights[0]["created_at"] == "2019-09-22T03:36:43+00:00"
    assert highlights[0]["annotation_version"] == 2
    assert all(tuple(row) == HIGHLIGHT_FIELDS for row in highlights)


def test_vignette_dump_counts_archived_items() -> None:
    rows = read_items("correlaid_pocketapi_get_53items_vignette.json")

    assert Counter(row["status"] for row in rows) == {"archived": 33, "unread": 20}
    assert all(tuple(row) == ITEM_FIELDS for row in rows)


def test_deleted_item_in_a_dump_is_a_tombstone_stamped_with_since() -> None:
    [row] = read_items("memory_jogger_get_since_sync_deleted_item_status2.json")

    assert row["item_id"] == "2929045771"
    assert row["status"] == "deleted"
    assert row["_sdc_deleted_at"] == row["time_updated"] == parse_timestamp(1585393208)
    assert row["given_url"] is None


def test_array_of_list_entries_is_an_api_dump() -> None:
    name = "dogsheep_pocket_to_sqlite_get_item_complete.json"
    [raw] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    expected, _ = api_path_rows({"status": 1, "complete": 1, "list": {raw["item_id"]: raw}})

    assert read_items(name) == expected
    assert expected[0]["given_title"] == "Deep Learning: Our Miraculous Year 1990-1991"


def test_invalid_json_dump_names_file_and_line() -> None:
    name = "karlicoss_pockexport_example_output_2019.json"

    # The trailing comma closing line 51 breaks it: Python 3.13's json names that comma
    # (line 51), earlier versions the place a value was expected after it (line 52).
    with pytest.raises(ExportError, match=r"_2019\.json, line 5[12]: is not valid JSON") as caught:
        read_items(name)
    assert caught.value.line in {51, 52}
