"""Real pages for the tests and bench/extraction.py, and how their results are scored.

- :func:`corpus`: the article-extraction benchmark's 181 pages with their ground truth
  (fixtures/pages/corpus);
- :func:`labelled`: the labelled pages of the classifiers (fixtures/pages/labelled: the
  README there says where each comes from);
- :func:`text_scores`: the benchmark's own text metric (scrapinghub/article-extraction-
  benchmark's evaluate.py, re-implemented here from its description: shingles of 4 word
  tokens, each page's true/false positives and false negatives normalised to sum to 1,
  precision and recall averaged over pages, F1 of the two averages);
- :func:`classifier_scores`: precision and recall of each classifier;
- :func:`serve`: a small HTTP server on loopback answering fixed routes.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import re
import threading
import typing as t
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

if t.TYPE_CHECKING:
    from collections.abc import Iterator

#: path -> (status, headers, body)
Routes = dict[str, tuple[int, dict[str, str], bytes]]

PAGES = Path(__file__).parent / "fixtures" / "pages"
CORPUS = PAGES / "corpus"
LABELLED = PAGES / "labelled"
#: The labels of the classifiers (pages/classify.py); every other page is an ``article``.
CLASSIFIED = ("blocked", "soft_404", "login_wall", "not_article")


class CorpusPage(t.NamedTuple):
    key: str
    body: bytes
    url: str
    truth: str


class LabelledPage(t.NamedTuple):
    name: str  # <label>/<file>
    label: str  # "article" or one of CLASSIFIED
    body: bytes
    requested_url: str
    final_url: str


def corpus() -> list[CorpusPage]:
    """The benchmark's pages, in the order of their keys."""
    truth = json.loads(gzip.decompress((CORPUS / "ground-truth.json.gz").read_bytes()))
    return [
        CorpusPage(
            key,
            gzip.decompress((CORPUS / "html" / f"{key}.html.gz").read_bytes()),
            item["url"],
            item["articleBody"],
        )
        for key, item in sorted(truth.items())
    ]


def labelled() -> list[LabelledPage]:
    """Every labelled page, the benchmark's pages included (as articles)."""
    urls = json.loads((LABELLED / "urls.json").read_text(encoding="utf-8"))
    pages = [
        LabelledPage(
            name,
            name.split("/")[0],
            gzip.decompress((LABELLED / name).read_bytes()),
            where["requested_url"],
            where["final_url"],
        )
        for name, where in sorted(urls.items())
    ]
    pages += [
        LabelledPage(f"corpus/{page.key}", "article", page.body, page.url, page.url)
        for page in corpus()
    ]
    return pages


def verdicts() -> list[tuple[str, str]]:
    """(label, verdict) of every labelled page through the whole extraction."""
    from tap_pocket.pages.extract import Job, extract

    results = []
    for page in labelled():
        found = extract(Job(page.body, None, page.final_url, page.requested_url))
        results.append((page.label, found["error"] or "article"))
    return results


def classifier_scores(results: list[tuple[str, str]]) -> dict[str, dict[str, float]]:
    """Each classifier's counts, precision and recall from (label, verdict) pairs.

    A verdict is a classifier's code or ``article``.
    """
    scores = {}
    for label in CLASSIFIED:
        tp = sum(1 for want, got in results if want == got == label)
        fp = sum(1 for want, got in results if got == label != want)
        fn = sum(1 for want, got in results if want == label != got)
        scores[label] = {
            "positives": tp + fn,
            "true_positives": tp,
            "false_positives": fp,
            "false_negatives": fn,
            "precision": tp / (tp + fp) if tp + fp else 1.0,
            "recall": tp / (tp + fn) if tp + fn else 1.0,
        }
    articles = [got for want, got in results if want == "article"]
    scores["article"] = {
        "pages": len(articles),
        "wrongly_flagged": sum(1 for got in articles if got != "article"),
    }
    return scores


_TOKEN = re.compile(r"\w+")


def _shingles(text: str, n: int = 4) -> Counter[tuple[str, ...]]:
    tokens = _TOKEN.findall(text or "")
    return Counter(
        tuple(tokens[i : i + n]) for i in range(max(1, len(tokens) - n + 1)) if tokens[i : i + n]
    )


def text_scores(pairs: list[tuple[str, str]]) -> dict[str, float]:
    """F1, precision and recall of predicted texts against true ones: (true, predicted)."""
    precisions, recalls = [], []
    for true, predicted in pairs:
        want, got = _shingles(true), _shingles(predicted)
        tp = fp = fn = 0.0
        for shingle in want.keys() | got.keys():
            tp += min(want[shingle], got[shingle])
            fp += max(0, got[shingle] - want[shingle])
            fn += max(0, want[shingle] - got[shingle])
        total = tp + fp + fn
        if total:
            tp, fp, fn = tp / total, fp / total, fn / total
        if tp + fp > 0:
            precisions.append(1.0 if fp == fn == 0 else tp / (tp + fp))
        if tp + fn > 0:
            recalls.append(1.0 if fp == fn == 0 else tp / (tp + fn))
    precision = sum(precisions) / len(precisions)
    recall = sum(recalls) / len(recalls)
    return {
        "f1": 2 * precision * recall / (precision + recall),
        "precision": precision,
        "recall": recall,
    }


def table_page(size: int) -> bytes:
    """A page of ``size`` bytes of table rows (the kind that costs trafilatura most)."""
    head = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Price list"
        "</title><meta name='description' content='Every price'></head><body>"
        "<h1>Price list</h1><table>\n"
    )
    row = (
        "<tr><td>{n}</td><td>Item number {n}</td><td>12.50</td><td>in stock</td>"
        "<td><a href='/p/{n}'>details</a></td></tr>\n"
    )
    rows = [head]
    total, n = len(head), 0
    while total < size:
        rows.append(row.format(n=n))
        total += len(rows[-1])
        n += 1
    return ("".join(rows) + "</table></body></html>").encode()


class _Site(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: t.Any, client_address: t.Any) -> None:
        pass  # clients that hang up are expected


@contextlib.contextmanager
def serve(routes: Routes) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 answering ``routes`` (others: 404); yields its base URL.

    robots.txt allows everything.
    """

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: t.Any) -> None:  # noqa: A002 - its name
            pass

        def do_GET(self) -> None:
            status, headers, body = routes.get(
                self.path.split("?")[0], (404, {"Content-Type": "text/plain"}, b"none")
            )
            if self.path == "/robots.txt":
                status, headers, body = 200, {"Content-Type": "text/plain"}, b""
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = _Site(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
