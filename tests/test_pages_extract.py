"""What is made of a page's bytes: charset, language, word count, the bounded workers."""
# ruff: noqa: RUF001 - the typographic quotes and dashes are what the tests are about

from __future__ import annotations

import asyncio
import codecs
import re
import typing as t

import pytest

from tap_pocket.pages.encoding import decode, decode_as, prescan, sniff
from tap_pocket.pages.encoding_tables import LABELS, SINGLE_BYTE
from tap_pocket.pages.extract import Job, extract, word_count
from tap_pocket.pages.language import bcp47, detect_language
from tap_pocket.pages.workers import ExtractionPool

from .pages_data import corpus, table_page

# -- encodings ---------------------------------------------------------------------------


def test_latin1_labels_decode_as_windows_1252() -> None:
    body = "<p>“Only €3” – said O’Neill…</p>".encode("cp1252")
    for label in ("ISO-8859-1", "latin1", "iso_8859-1", "US-ASCII", "ascii", "windows-1252"):
        assert decode(body, label) == "<p>“Only €3” – said O’Neill…</p>", label
    # The five bytes windows-1252 leaves undefined are the C1 controls browsers give them.
    assert decode(bytes([0x81, 0x8D, 0x8F, 0x90, 0x9D]), "latin1") == "\x81\x8d\x8f\x90\x9d"


def test_the_byte_order_mark_wins() -> None:
    body = b"\xef\xbb\xbf" + "<p>café €3</p>".encode()
    assert decode(body, "iso-8859-1") == "<p>café €3</p>"
    assert sniff(body, "iso-8859-1") == ("UTF-8", "bom")
    utf16 = codecs.BOM_UTF16_LE + "<p>naïve</p>".encode("utf-16-le")
    assert decode(utf16, "utf-8") == "<p>naïve</p>"


@pytest.mark.parametrize(
    ("head", "found"),
    [
        (b'<meta charset="shift_jis">', "Shift_JIS"),
        (b"<meta charset=KOI8-R>", "KOI8-R"),
        (b'<META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=euc-kr">', "EUC-KR"),
        (b"<meta content='text/html; charset=\"gb2312\"' http-equiv=content-type>", "GBK"),
        # content= without http-equiv content-type: no pragma, no charset.
        (b'<meta content="text/html; charset=shift_jis">', None),
        (b"<!-- <meta charset=koi8-r> --><meta charset=big5>", "Big5"),
        (b'<div title="<meta charset=koi8-r>"><meta charset=euc-jp>', "EUC-JP"),
        (b'<meta charset="utf-16le">', "UTF-8"),  # UTF-16 in a meta is read as UTF-8
        (b'<meta charset="x-user-defined">', "windows-1252"),
        (b'<meta charset="no-such-thing"><meta charset="iso-8859-2">', "ISO-8859-2"),
        (b"<p>no declaration</p>", None),
    ],
)
def test_meta_prescan(head: bytes, found: str | None) -> None:
    assert prescan(head) == found


def test_prescan_reads_the_first_1024_bytes_only() -> None:
    late = b"<!DOCTYPE html><html><head>" + b" " * 1100 + b'<meta charset="koi8-r">'
    assert sniff(late, None) == ("UTF-8", "detected")
    early = b"<html><head>" + b'<meta charset="koi8-r">' + b" " * 1100
    assert sniff(early, None) == ("KOI8-R", "meta")


def test_the_header_beats_the_meta_and_an_unknown_label_is_ignored() -> None:
    body = '<meta charset="koi8-r"><p>Жёлтый</p>'.encode("koi8-r")
    assert sniff(body, "windows-1251") == ("windows-1251", "header")
    assert sniff(body, "no-such-label") == ("KOI8-R", "meta")
    assert decode(body, "no-such-label") == '<meta charset="koi8-r"><p>Жёлтый</p>'


def test_undeclared_bodies_are_detected() -> None:
    assert sniff("<p>déjà vu</p>".encode(), None) == ("UTF-8", "detected")
    japanese = ("<p>" + "日本語の文章です。これはテストです。" * 20 + "</p>").encode("shift_jis")
    assert sniff(japanese, None) == ("Shift_JIS", "detected")
    assert decode(japanese, None).startswith("<p>日本語の文章です。")


def test_undecodable_bytes_become_replacement_characters() -> None:
    # A browser shows U+FFFD where the declared charset does not fit; decoding never fails.
    assert decode("Café".encode("latin-1"), "utf-8") == "Caf\ufffd"
    assert decode(b"\x1b$)C\x0e!!", "iso-2022-kr") == "\ufffd"  # the "replacement" encoding


def test_the_label_table_is_the_standards() -> None:
    # 228 labels in the standard at the commit the table was written from.
    assert len(LABELS) == 228
    assert LABELS["latin1"] == LABELS["us-ascii"] == LABELS["iso-8859-1"] == "windows-1252"
    assert LABELS["gb2312"] == "GBK"
    assert LABELS["iso-2022-kr"] == "replacement"
    # Each single-byte index agrees with Python's codec wherever that codec defines a byte
    # (where it does not, the standard's index decides).
    for name, python in (
        ("windows-1252", "cp1252"),
        ("ISO-8859-2", "iso8859_2"),
        ("KOI8-R", "koi8_r"),
        ("windows-1251", "cp1251"),
    ):
        for byte in range(0x80, 0x100):
            try:
                expected = bytes([byte]).decode(python)
            except UnicodeDecodeError:
                continue
            assert SINGLE_BYTE[name][byte - 0x80] == expected, (name, hex(byte))
    assert decode_as(bytes([0x80, 0xFF]), "x-user-defined") == "\uf780\uf7ff"


# -- language and word count --------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "normal"),
    [
        ("EN", "en"),
        ("en-gb", "en-GB"),
        ("en_GB", "en-GB"),
        ("zh-hant-tw", "zh-Hant-TW"),
        ("es-419", "es-419"),
        ("sr-latn", "sr-Latn"),
        ("de-DE-x-Formal", "de-DE-x-formal"),
        ("en, fr", "en"),
        ("", None),
        ("12", None),
        ("en-", None),
    ],
)
def test_bcp47_case(tag: str, normal: str | None) -> None:
    assert bcp47(tag) == normal


def corpus_pages() -> list[tuple[bytes, str, str]]:
    return [(page.body, page.url, page.truth) for page in corpus()]


def test_the_page_declaration_comes_first() -> None:
    page = (
        b"<html lang='fr-ca'><head><title>t</title><meta property='og:locale' "
        b"content='de_DE'></head><body><p>"
        + b"This is plainly an English text. " * 20
        + b"</p></body></html>"
    )
    assert extract(Job(page, None, "http://a/x", "http://a/x"))["lang"] == "fr-CA"
    og_only = page.replace(b"<html lang='fr-ca'>", b"<html>")
    assert extract(Job(og_only, None, "http://a/x", "http://a/x"))["lang"] == "de-DE"
    undeclared = og_only.replace(b"og:locale", b"og:other")
    assert extract(Job(undeclared, None, "http://a/x", "http://a/x"))["lang"] == "en"


def test_undeclared_corpus_pages_mostly_get_a_language() -> None:
    """The benchmark's pages that declare no language (19 % of them) get one detected."""
    declared = re.compile(rb"<html[^>]*\slang\s*=\s*[\"']?[A-Za-z]", re.IGNORECASE)
    undeclared = [(body, url) for body, url, _ in corpus_pages() if not declared.search(body)]
    assert len(undeclared) > 20
    langs = [extract(Job(body, None, url, url))["lang"] for body, url in undeclared]
    assert sum(1 for lang in langs if lang) >= 0.9 * len(undeclared), langs


def test_detection_agrees_with_what_pages_declare() -> None:
    """CLD3 on the ground truth's text of pages that declare their language."""
    found = re.compile(rb"<html[^>]*\slang\s*=\s*[\"']?([A-Za-z]{2,3})", re.IGNORECASE)
    pairs = [
        (m.group(1).decode().lower(), detect_language(text))
        for body, _url, text in corpus_pages()
        if (m := found.search(body))
    ]
    agree = sum(1 for want, got in pairs if got and got.split("-")[0] == want)
    assert agree >= 0.95 * len(pairs), [p for p in pairs if not p[1] or p[1][:2] != p[0]]


def test_word_count() -> None:
    assert word_count("The quick brown fox — jumps.") == 5
    assert word_count("日本語の文章です。") == 8  # 8 kanji and kana; the full stop is none
    assert word_count("Pocket は 2025 年に終了した") == 9  # Pocket, 2025 and 7 kanji and kana
    assert word_count("한국어 문장은 띄어쓰기를 합니다") == 4  # Korean is spaced: its words
    assert word_count("") == 0


# -- the workers: limits, failures, replacement ---------------------------------------------


def run_pool(pool: ExtractionPool, jobs: list[Job]) -> list[dict[str, t.Any]]:
    async def all_of() -> list[dict[str, t.Any]]:
        return list(await asyncio.gather(*(pool.extract(job) for job in jobs)))

    return asyncio.run(all_of())


def test_a_page_past_the_time_limit_keeps_its_metadata_and_only_its_worker_is_replaced() -> None:
    article, url, _ = corpus_pages()[0]
    pool = ExtractionPool(2, time_limit=3.0, memory_limit=0)
    try:
        pool.start()
        big = Job(table_page(3_000_000), None, "http://a/prices", "http://a/prices")
        good = [Job(article, None, url, url) for _ in range(4)]
        results = run_pool(pool, [big, *good])
        # The other pages were extracted (by the other worker, then by both).
        assert all(r["error"] is None and r["text"] for r in results[1:])
        assert results[0]["error"] == "extraction_limit"
        assert results[0]["title"] == "Price list"  # from the metadata pass
        assert results[0]["excerpt"] == "Every price"
        assert "text" not in results[0]
        # The replaced worker works again.
        assert run_pool(pool, [good[0]])[0]["error"] is None
    finally:
        pool.close()


def test_a_page_past_the_memory_limit_ends_as_extraction_limit() -> None:
    pool = ExtractionPool(1, time_limit=600.0, memory_limit=64 * 1024 * 1024)
    try:
        big = Job(table_page(4_900_000), None, "http://a/prices", "http://a/prices")
        (result,) = run_pool(pool, [big])
        assert result["error"] == "extraction_limit"
        assert result["title"] == "Price list"
    finally:
        pool.close()


def test_a_page_the_extractor_fails_on_is_extraction_failed() -> None:
    pool = ExtractionPool(1, time_limit=60.0, memory_limit=0)
    try:
        broken = Job(t.cast("bytes", None), None, "http://a/x", "http://a/x")
        article, url, _ = corpus_pages()[1]
        first, second = run_pool(pool, [broken, Job(article, None, url, url)])
        assert first == {"error": "extraction_failed"}
        assert second["error"] is None
        assert second["text"]
    finally:
        pool.close()
