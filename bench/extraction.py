"""Benchmark of what the ``pages`` stream makes of real pages (issue #19, items b and c).

    .venv/bin/python bench/extraction.py [--rounds 3] [--skip-table]

(b) On the article-extraction benchmark's 181 real pages (tests/fixtures/pages/corpus):

* extraction CPU per page (median, p95, mean), the whole extraction as a worker runs it
  (decoding, the metadata pass, trafilatura, language, classifiers), in this process;
* pages/s through the tap's own worker pool (``fetch_extract_workers`` = the CPU count),
  wall time over ``--rounds`` passes over the 181 pages;
* F1, precision and recall of the text against the ground truth, by the benchmark's own
  metric (tests/pages_data.py: text_scores);
* each classifier's precision and recall on the labelled pages (tests/fixtures/pages/
  labelled and the corpus).

(c) The 4.9 MB page of table rows, served on loopback to the real ``tap-pocket`` command
(items and pages selected, default settings): the row's error and title, the wall time,
and the peak RSS of the tap with its extraction workers (summed, sampled every 50 ms).

The load average is taken before and after; results go to bench/results/extraction.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pages import run_tap, write_export  # noqa: E402 - bench/ is on the path when run

from tap_pocket.pages.extract import Job, extract  # noqa: E402 - after the path
from tap_pocket.pages.workers import ExtractionPool  # noqa: E402
from tap_pocket.settings import DEFAULTS  # noqa: E402
from tests.pages_data import (  # noqa: E402
    classifier_scores,
    corpus,
    serve,
    table_page,
    text_scores,
    verdicts,
)

RESULTS = ROOT / "bench" / "results" / "extraction.json"
TABLE_BYTES = 4_900_000


def load() -> list[float]:
    """The load average (1, 5, 15 minutes)."""
    return [round(x, 2) for x in os.getloadavg()]


def per_page_cpu() -> dict[str, float]:
    """CPU seconds of each corpus page's extraction, and the text's scores."""
    pages = corpus()
    extract(Job(pages[0].body, None, pages[0].url, pages[0].url))  # imports, models
    seconds, pairs = [], []
    for page in pages:
        started = time.process_time()
        found = extract(Job(page.body, None, page.url, page.url))
        seconds.append(time.process_time() - started)
        pairs.append((page.truth, found.get("text") or ""))
    seconds.sort()
    sizes = sorted(len(page.body) for page in pages)
    return {
        "pages": len(pages),
        "page_kb_median": round(statistics.median(sizes) / 1000, 1),
        "cpu_ms_median": round(1000 * statistics.median(seconds), 1),
        "cpu_ms_p95": round(1000 * seconds[int(0.95 * (len(seconds) - 1))], 1),
        "cpu_ms_mean": round(1000 * statistics.mean(seconds), 1),
        "pages_per_cpu_s": round(len(seconds) / sum(seconds), 1),
        **{f"text_{k}": round(v, 4) for k, v in text_scores(pairs).items()},
    }


def pool_throughput(rounds: int) -> dict[str, float]:
    """Pages/s through the worker pool: every corpus page ``rounds`` times."""
    pages = corpus()
    workers = os.cpu_count() or 1
    pool = ExtractionPool(
        workers,
        time_limit=float(DEFAULTS["fetch_extract_timeout_seconds"]),
        memory_limit=int(DEFAULTS["fetch_extract_memory_mb"]) * 1024 * 1024,
    )
    jobs = [Job(p.body, None, p.url, p.url) for _ in range(rounds) for p in pages]

    async def run() -> list[dict]:
        # Start every worker first: their start-up is not extraction.
        await asyncio.gather(*(pool.extract(jobs[n]) for n in range(workers)))
        return list(await asyncio.gather(*(pool.extract(job) for job in jobs)))

    try:
        started = time.perf_counter()
        results = asyncio.run(run())
        wall = time.perf_counter() - started
    finally:
        pool.close()
    return {
        "workers": workers,
        "pages": len(jobs),
        "wall_s": round(wall, 2),
        "pages_per_s": round(len(jobs) / wall, 1),
        "errors": sum(1 for r in results if r["error"]),
    }


def classifiers() -> dict[str, dict[str, float]]:
    """Each classifier's precision and recall on the labelled pages."""
    return classifier_scores(verdicts())


def table_run() -> dict[str, object]:
    """The 4.9 MB table page through the real tap, default settings."""
    body = table_page(TABLE_BYTES)
    routes = {"/prices": (200, {"Content-Type": "text/html; charset=utf-8"}, body)}
    with serve(routes) as base, tempfile.TemporaryDirectory() as work:
        export = Path(work) / "part_000000.csv"
        write_export(export, [base + "/prices"])
        config = {
            "export_path": str(export),
            "fetch_private_addresses": True,
            "fetch_cache_path": str(Path(work) / "pages.sqlite3"),
            "wayback_api_url": "",
        }
        figures = run_tap(config, Path(work))
        # The row as the cache keeps it (the tap's stdout is counted, not kept):
        # extraction_limit is a definite answer, kept in the column ``kept``.
        with contextlib.closing(sqlite3.connect(Path(work) / "pages.sqlite3")) as db:
            (stored,) = db.execute("SELECT kept FROM pages").fetchone()
    row = json.loads(stored)
    return {
        "page_bytes": len(body),
        "time_limit_s": DEFAULTS["fetch_extract_timeout_seconds"],
        "memory_limit_mb": DEFAULTS["fetch_extract_memory_mb"],
        "row": {k: row.get(k) for k in ("error", "title", "excerpt", "lang", "text")},
        **figures,
    }


def main() -> None:
    """Run the measures; print and write them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-table", action="store_true")
    args = parser.parse_args()
    results: dict[str, object] = {
        "command": "python bench/extraction.py " + " ".join(sys.argv[1:]),
        "cpus": os.cpu_count(),
        "load_before": load(),
    }
    results["per_page"] = per_page_cpu()
    results["load_after_per_page"] = load()
    results["pool"] = pool_throughput(args.rounds)
    results["load_after_pool"] = load()
    results["classifiers"] = classifiers()
    if not args.skip_table:
        results["table_page"] = table_run()
    results["load_after"] = load()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
