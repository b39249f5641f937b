"""What the ``pages`` rows say of what came back, through the real ``tap-pocket`` command.

A small site on loopback serves real pages of the labelled set (tests/fixtures/pages/
labelled: a bot challenge, a "not found" page, a sign-in page a deep link is sent to, a
JavaScript shell), a real article, pages in legacy charsets and a page too costly to
extract, to a tap that reads an export (and, once, the Pocket API emulator).
"""

# ruff: noqa: RUF001 - the typographic quotes and dashes are what the tests are about

from __future__ import annotations

import gzip
import json
import typing as t

import pytest

from pocket_emulator import Account, FakeClock, PocketEmulator
from tap_pocket.pages.outcomes import WITH_CONTENT

from .conftest import CLOCK_START, config_for, run_cli
from .pages_data import LABELLED, Routes, serve, table_page
from .test_pages import selecting, write_export
from .test_pages_site import ARTICLES

if t.TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

ARTICLE = ARTICLES["14cc2a0ca59c"]
CONTENT = ["title", "excerpt", "lang", "word_count", "authors", "text", "site_name"]


def labelled(name: str) -> bytes:
    return gzip.decompress((LABELLED / f"{name}.gz").read_bytes())


#: path -> (status, headers, body)
ROUTES: Routes = {
    "/2021/05/an-article": (200, {"Content-Type": "text/html; charset=utf-8"}, ARTICLE),
    "/": (200, {"Content-Type": "text/html; charset=utf-8"}, ARTICLE),  # the home page
    "/news/2019/moved-story": (301, {"Location": "/"}, b""),
    "/challenge": (
        200,
        {"Content-Type": "text/html; charset=UTF-8"},
        labelled("blocked/cloudscraper-js_challenge_11_12_2019.html"),
    ),
    "/blog/2019/some-article/": (
        200,  # a "not found" page sent with 200
        {"Content-Type": "text/html"},
        labelled("soft_404/django-not-found.html"),
    ),
    "/members/2021/report/": (
        302,
        {"Location": "/accounts/login/?next=/members/2021/report/"},
        b"",
    ),
    "/accounts/login/": (
        200,
        {"Content-Type": "text/html; charset=utf-8"},
        labelled("login_wall/django-allauth-login.html"),
    ),
    "/app/posts/42": (
        200,
        {"Content-Type": "text/html"},
        labelled("not_article/create-react-app-index.html"),
    ),
    # Windows-1252 quotes, dash and euro sign in a page labelled ISO-8859-1.
    "/latin1": (
        200,
        {"Content-Type": "text/html; charset=ISO-8859-1"},
        (
            "<html><head><title>Prix “€3” l’unité—net</title></head><body><article><p>"
            + "Le café coûte “€3” – c’est le prix. " * 30
            + "</p></article></body></html>"
        ).encode("cp1252"),
    ),
    # A UTF-8 byte-order mark under a Latin-1 header.
    "/bom": (
        200,
        {"Content-Type": "text/html; charset=iso-8859-1"},
        b"\xef\xbb\xbf"
        + (
            "<html><head><title>Crème brûlée à €5</title></head><body><article><p>"
            + "Une crème brûlée coûte €5 à Genève. " * 30
            + "</p></article></body></html>"
        ).encode(),
    ),
    # No charset in the header: the meta http-equiv names it.
    "/http-equiv": (
        200,
        {"Content-Type": "text/html"},
        (
            '<html><head><meta http-equiv="Content-Type" content="text/html; charset=koi8-r">'
            "<title>Жёлтый дом</title></head><body><article><p>"
            + "Жёлтый дом стоит на берегу реки уже сто лет. " * 30
            + "</p></article></body></html>"
        ).encode("koi8-r"),
    ),
    "/prices": (200, {"Content-Type": "text/html; charset=utf-8"}, table_page(3_000_000)),
}


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    with serve(ROUTES) as url:
        yield url


def sync(tmp_path: Path, config: dict[str, t.Any]) -> dict[str, dict[str, t.Any]]:
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps(selecting(config, "items", "pages")))
    result = run_cli("--catalog", str(catalog), config=config, tmp_path=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return {row["url"]: row for row in result.output.records["pages"]}


def export_settings(tmp_path: Path, urls: list[str], **settings: t.Any) -> dict[str, t.Any]:
    return {
        "export_path": str(write_export(tmp_path, urls)),
        "fetch_private_addresses": True,
        "fetch_cache_path": str(tmp_path / "pages.sqlite3"),
        "wayback_api_url": "",
        **settings,
    }


EXPECTED = {
    "/2021/05/an-article": None,
    "/challenge": "blocked",
    "/blog/2019/some-article/": "soft_404",
    "/members/2021/report/": "login_wall",
    "/app/posts/42": "not_article",
    "/news/2019/moved-story": "not_article",  # a deep link sent to the home page
}


def test_pages_that_are_not_the_article_say_what_they_are(tmp_path: Path, base: str) -> None:
    rows = sync(tmp_path, export_settings(tmp_path, [base + path for path in EXPECTED]))
    assert {url.removeprefix(base): row["error"] for url, row in rows.items()} == EXPECTED
    for path, code in EXPECTED.items():
        row = rows[base + path]
        assert row["http_status"] == 200
        if code is None:
            assert row["title"].startswith("NASA Just Confirmed")
            assert row["text"]
        else:
            assert code not in WITH_CONTENT
            # The wrong page's text is not stored as the article's.
            assert {c: row[c] for c in CONTENT} == dict.fromkeys(CONTENT), path
    assert rows[base + "/members/2021/report/"]["final_url"].startswith(base + "/accounts/login/")
    assert rows[base + "/news/2019/moved-story"]["final_url"] == base + "/"


def test_the_api_path_classifies_the_same(tmp_path: Path, base: str) -> None:
    account = Account(FakeClock(start=CLOCK_START))
    ids = {account.add_item(base + path, title=path): path for path in EXPECTED}
    with PocketEmulator(account) as emulator:
        config = config_for(
            emulator,
            fetch_private_addresses=True,
            fetch_cache_path=str(tmp_path / "pages.sqlite3"),
            wayback_api_url="",
        )
        catalog = tmp_path / "catalog.json"
        catalog.write_text(json.dumps(selecting(config, "items", "pages")))
        result = run_cli("--catalog", str(catalog), config=config, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    found = {ids[row["item_id"]]: row["error"] for row in result.output.records["pages"]}
    assert found == EXPECTED


def test_legacy_charsets_decode_as_browsers_do(tmp_path: Path, base: str) -> None:
    paths = ["/latin1", "/bom", "/http-equiv"]
    rows = sync(tmp_path, export_settings(tmp_path, [base + p for p in paths]))
    latin1, bom, koi8 = (rows[base + p] for p in paths)
    assert latin1["error"] is None
    assert latin1["title"] == "Prix “€3” l’unité—net"
    assert "Le café coûte “€3” – c’est le prix." in latin1["text"]
    assert bom["title"] == "Crème brûlée à €5"
    assert "Une crème brûlée coûte €5 à Genève." in bom["text"]
    assert koi8["title"] == "Жёлтый дом"
    assert koi8["lang"] == "ru"  # undeclared: detected from the text
    assert not [row for row in rows.values() if "\ufffd" in (row["text"] or "")]


def test_a_page_past_the_extraction_time_limit_keeps_its_metadata(
    tmp_path: Path, base: str
) -> None:
    urls = [base + "/prices", base + "/2021/05/an-article", base + "/latin1"]
    rows = sync(tmp_path, export_settings(tmp_path, urls, fetch_extract_timeout_seconds=1))
    prices = rows[base + "/prices"]
    assert prices["error"] == "extraction_limit"
    assert prices["title"] == "Price list"  # what the metadata pass found
    assert prices["excerpt"] == "Every price"
    assert prices["lang"] == "en"
    assert prices["text"] is None
    # Its worker was replaced; the other pages were extracted.
    assert rows[base + "/2021/05/an-article"]["error"] is None
    assert rows[base + "/2021/05/an-article"]["text"]
    assert rows[base + "/latin1"]["error"] is None


def test_a_broken_extractor_dependency_stops_the_run_at_its_start(
    tmp_path: Path, base: str
) -> None:
    """lxml_html_clean missing: one line naming it, exit 1, before any item is written.

    (pip < 23.3 leaves it out when the tap does not declare it.)
    """
    shim = tmp_path / "shim" / "lxml_html_clean"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text(
        "raise ImportError(\"No module named 'lxml_html_clean'\", name='lxml_html_clean')\n"
    )
    config = export_settings(tmp_path, [base + "/2021/05/an-article"])
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps(selecting(config, "items", "pages")))
    result = run_cli(
        "--catalog",
        str(catalog),
        config=config,
        tmp_path=tmp_path,
        env={"PYTHONPATH": str(tmp_path / "shim")},
    )
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "lxml_html_clean" in line]
    assert len(errors) == 1, result.stderr
    assert "pip install" in errors[0]
    assert "Traceback" not in result.stderr
    assert '"type":"RECORD"' not in result.stdout.replace(" ", "")
