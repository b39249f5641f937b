#!/usr/bin/env python3
"""Write demo/pocket.zip: a small, realistic Pocket export for the Meltano quickstart.

It has the layout of the export Pocket offered in 2024-2025: ``part_000000.csv`` with
the header ``title,url,time_added,tags,status`` (tags separated by ``|``, status
``unread`` or ``archive``) and ``annotations/part_000000.json`` with the highlights as
``[{url, title, highlights: [{quote, created_at}]}]``. The titles and quotes are made up
for the demo. The quirks of real exports are kept: a title with a comma and quotes, one
spanning two lines, non-ASCII text, ``&amp;`` leaked into a URL, items without tags and
an item whose title is its URL.

The output is byte-for-byte reproducible: ``python scripts/make_demo_export.py`` and
``git diff --stat demo/`` shows no change unless this file changed.
"""

from __future__ import annotations

import csv
import io
import json
import sys
import zipfile
from datetime import datetime, timezone
from pathlib import Path

DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "demo" / "pocket.zip"
#: Zip member timestamps: fixed, so the zip does not change from run to run.
ZIP_TIME = (2025, 7, 1, 12, 0, 0)


def _ts(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp())


# (title, url, saved at (UTC), tags, status)
ITEMS: list[tuple[str, str, str, list[str], str]] = [
    (
        "SQLite Is Not a Toy Database",
        "https://antonz.org/sqlite-is-not-a-toy-database/",
        "2021-03-02T08:15:00",
        ["databases", "sqlite"],
        "archive",
    ),
    (
        "DuckDB – An in-process SQL OLAP database",  # noqa: RUF001 - the real title's dash
        "https://duckdb.org/",
        "2022-01-10T19:02:11",
        ["databases", "duckdb", "analytics"],
        "archive",
    ),
    (
        "Why Python is slow, and what to do about it",
        "https://jakevdp.github.io/blog/2014/05/09/why-python-is-slow/",
        "2021-05-21T21:40:03",
        ["python", "performance"],
        "archive",
    ),
    (
        "PostgreSQL: Documentation: 17: 8.15. Arrays",
        "https://www.postgresql.org/docs/17/arrays.html",
        "2024-11-03T10:00:00",
        ["databases", "postgresql"],
        "unread",
    ),
    (
        "The Twelve-Factor App",
        "https://12factor.net/",
        "2020-09-14T07:30:45",
        ["architecture", "devops"],
        "archive",
    ),
    (
        "Designing Data-Intensive Applications, chapter notes",
        "https://martin.kleppmann.com/2017/03/27/designing-data-intensive-applications.html",
        "2023-02-18T16:12:00",
        ["books", "databases", "architecture"],
        "unread",
    ),
    (
        "Singer: open-source ETL, the spec",
        "https://github.com/singer-io/getting-started/blob/master/docs/SPEC.md",
        "2023-06-01T09:09:09",
        ["data-engineering", "singer"],
        "archive",
    ),
    (
        "Meltano documentation: Getting Started",
        "https://docs.meltano.com/getting-started/",
        "2024-01-15T13:45:30",
        ["data-engineering", "meltano"],
        "unread",
    ),
    (
        "Bread baking for beginners: a no-knead loaf",
        "https://www.seriouseats.com/no-knead-bread-recipe",
        "2022-12-24T11:20:00",
        ["cooking"],
        "archive",
    ),
    (
        "A 10-day itinerary for Japan, by train",
        "https://www.japan-guide.com/e/e623.html",
        "2024-03-08T22:05:17",
        ["travel", "japan"],
        "unread",
    ),
    (
        "Kyoto's 1,000 torii gates: Fushimi Inari at dawn",
        "https://www.japan-guide.com/e/e3915.html",
        "2024-03-08T22:07:40",
        ["travel", "japan"],
        "unread",
    ),
    (
        "How to Do Great Work",
        "https://paulgraham.com/greatwork.html",
        "2023-07-05T06:50:00",
        ["essays", "career"],
        "archive",
    ),
    (
        'The "boring technology" club, revisited',
        "https://boringtechnology.club/",
        "2022-08-19T17:33:21",
        ["architecture", "essays"],
        "archive",
    ),
    (
        "What every programmer should know about memory, part 1",
        "https://lwn.net/Articles/250967/",
        "2021-11-11T11:11:11",
        ["performance", "systems"],
        "unread",
    ),
    (
        "Falsehoods programmers believe about time",
        "https://infiniteundo.com/post/25326999628/falsehoods-programmers-believe-about-time",
        "2020-02-29T23:59:00",
        ["essays", "time"],
        "archive",
    ),
    (
        "Zürich in a weekend: lakes, trams and Älplermagronen",
        "https://www.zuerich.com/en/visit/zurich-in-48-hours",
        "2024-06-30T08:00:00",
        ["travel"],
        "unread",
    ),
    (
        "Sourdough starter, day by day",
        "https://www.kingarthurbaking.com/recipes/sourdough-starter-recipe",
        "2023-01-03T09:30:00",
        ["cooking"],
        "unread",
    ),
    (
        "Tags, arrays & JSON in Postgres: when to use which",
        "https://www.crunchydata.com/blog/tags-and-taxonomy-in-postgresql",
        "2024-09-12T14:14:14",
        ["databases", "postgresql"],
        "unread",
    ),
    (
        "Search results: python csv module quoting",
        "https://www.google.com/search?q=python+csv+quoting&amp;hl=en",
        "2024-10-01T10:10:10",
        [],
        "archive",
    ),
    (
        "https://news.ycombinator.com/item?id=40000000",
        "https://news.ycombinator.com/item?id=40000000",
        "2024-04-12T03:04:05",
        [],
        "unread",
    ),
    (
        "Elasticsearch: the definitive guide – Upserts",  # noqa: RUF001 - a typographic dash, as real titles have
        "https://www.elastic.co/guide/en/elasticsearch/reference/current/docs-update.html",
        "2024-05-05T05:05:05",
        ["search", "elasticsearch"],
        "unread",
    ),
    (
        "Understanding the Python GIL",
        "https://realpython.com/python-gil/",
        "2022-04-04T12:00:00",
        ["python"],
        "archive",
    ),
    (
        "Rust for Pythonistas,\nin one afternoon",
        "https://www.rust-lang.org/learn",
        "2024-08-08T18:18:18",
        ["rust", "python"],
        "unread",
    ),
    (
        "The Pomodoro Technique, explained",
        "https://todoist.com/productivity-methods/pomodoro-technique",
        "2021-01-04T07:00:00",
        ["productivity"],
        "archive",
    ),
    (
        "Café culture in Lisbon: 12 places worth the climb",
        "https://www.visitlisboa.com/en/things-to-do/cafes",
        "2025-02-14T15:30:00",
        ["travel", "coffee"],
        "unread",
    ),
    (
        "Pocket is saying goodbye: what you need to know",
        "https://support.mozilla.org/en-US/kb/future-of-pocket",
        "2025-05-22T20:00:00",
        ["pocket"],
        "unread",
    ),
    (
        "Export your data before Pocket closes",
        "https://getpocket.com/export",
        "2025-05-23T08:00:00",
        ["pocket", "data-engineering"],
        "unread",
    ),
    (
        "Write-ahead logging, explained with diagrams",
        "https://sqlite.org/wal.html",
        "2021-03-02T08:20:00",
        ["databases", "sqlite", "systems"],
        "unread",
    ),
    (
        "Better Python testing with pytest fixtures",
        "https://docs.pytest.org/en/stable/how-to/fixtures.html",
        "2023-10-10T10:10:10",
        ["python", "testing"],
        "archive",
    ),
    (
        "An introduction to incremental ELT",
        "https://docs.meltano.com/guide/integration/",
        "2024-01-15T13:50:00",
        ["data-engineering", "meltano"],
        "unread",
    ),
]

# (url of an item above, [(quote, highlighted at (UTC))])
HIGHLIGHTS: list[tuple[str, list[tuple[str, str]]]] = [
    (
        "https://antonz.org/sqlite-is-not-a-toy-database/",
        [
            ("One file, no server, and it still handles serious workloads.", "2021-03-03T19:00:00"),
            ("Most applications never outgrow a single-file database.", "2021-03-03T19:04:00"),
        ],
    ),
    (
        "https://12factor.net/",
        [
            ("Store config in the environment.", "2020-09-15T08:00:00"),
        ],
    ),
    (
        "https://paulgraham.com/greatwork.html",
        [
            ("Curiosity is the engine; the rest is steering.", "2023-07-06T07:10:00"),
            ("Work on what you can't stop thinking about.", "2023-07-06T07:12:30"),
            ("Don't be afraid to say \"I don't know yet\".", "2023-07-06T07:20:00"),
        ],
    ),
    (
        "https://infiniteundo.com/post/25326999628/falsehoods-programmers-believe-about-time",
        [
            ("A day is not always 24 hours long.", "2020-03-01T10:00:00"),
        ],
    ),
    (
        "https://realpython.com/python-gil/",
        [
            ("Only one thread executes Python bytecode at a time.", "2022-04-05T09:00:00"),
        ],
    ),
    (
        "https://docs.pytest.org/en/stable/how-to/fixtures.html",
        [
            ("Fixtures are requested by naming them as arguments.", "2023-10-11T12:00:00"),
        ],
    ),
]


def csv_text() -> str:
    """The export's CSV part: one row per demo item."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["title", "url", "time_added", "tags", "status"])
    for title, url, saved, tags, status in ITEMS:
        writer.writerow([title, url, _ts(saved), "|".join(tags), status])
    return out.getvalue()


def annotations_json() -> str:
    """The export's annotations part: the demo highlights grouped by item."""
    titles = {url: title for title, url, *_ in ITEMS}
    entries = [
        {
            "url": url,
            "title": titles[url],
            "highlights": [{"quote": quote, "created_at": _ts(at)} for quote, at in quotes],
        }
        for url, quotes in HIGHLIGHTS
    ]
    return json.dumps(entries, ensure_ascii=False, indent=1) + "\n"


def write_zip(path: Path) -> None:
    """Write the export zip at ``path``, byte for byte the same on every run."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, text in (
            ("part_000000.csv", csv_text()),
            ("annotations/part_000000.json", annotations_json()),
        ):
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, text.encode("utf-8"))


def main(argv: list[str]) -> int:
    """Write the zip (``argv[1]`` or demo/pocket.zip) and say what it holds."""
    output = Path(argv[1]) if len(argv) > 1 else DEFAULT_OUTPUT
    write_zip(output)
    quotes = sum(len(q) for _, q in HIGHLIGHTS)
    print(f"wrote {output}: {len(ITEMS)} items, {quotes} highlights")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
