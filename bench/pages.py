"""Benchmark of the ``pages`` stream (issue #15): 2,000 links on the local test site.

    .venv/bin/python bench/pages.py [--links 2000] [--delay 0.05] [--hosts 8]
    .venv/bin/python bench/pages.py --demo     # the demo export's links, mapped to the site

The site (tests/test_pages_site.py) runs in this process on 127.0.0.2 ... 127.0.0.9, each
answer delayed by ``--delay`` seconds; the tap runs as the real ``tap-pocket`` command in
a subprocess (items and pages selected), its stdout counted and dropped. Two runs: the
first fetches and extracts every page, the second is served from the cache. Measured:

* pages/s: the tap's own summary line (pages done / time from the first batch to the end);
* wall time of the whole command (start-up included);
* peak RSS: the tap's process tree (the tap and its extraction workers), summed, sampled
  every 50 ms from /proc;
* requests in flight when pages go to extraction (the tap's closing log line), and the
  site's own peak of requests in flight: extraction must not stall fetching.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.test_pages_site import ARTICLES, LocalSite  # noqa: E402 - after the path

TAP = [sys.executable, "-m", "tap_pocket"]


def tree_usage(pid: int, cpu: dict[int, float]) -> int:
    """Resident bytes of ``pid`` and all its descendants; their CPU seconds go into ``cpu``."""
    children: dict[int, list[int]] = {}
    for path in Path("/proc").iterdir():
        entry = path.name
        if not entry.isdigit():
            continue
        try:
            stat = (path / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry))
    total, todo = 0, [pid]
    ticks = os.sysconf("SC_CLK_TCK")
    while todo:
        current = todo.pop()
        todo.extend(children.get(current, []))
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            cpu[current] = (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


def catalog(config_path: Path) -> dict:
    """The tap's catalog with items and pages selected."""
    out = subprocess.run(
        [*TAP, "--config", str(config_path), "--discover"], capture_output=True, check=True
    )
    found = json.loads(out.stdout)
    for stream in found["streams"]:
        for entry in stream["metadata"]:
            if entry["breadcrumb"] == []:
                entry["metadata"]["selected"] = stream["tap_stream_id"] in {"items", "pages"}
    return found


def run_tap(config: dict, work: Path) -> dict:
    """Run the tap once; its figures."""
    config_path = work / "config.json"
    config_path.write_text(json.dumps(config))
    catalog_path = work / "catalog.json"
    catalog_path.write_text(json.dumps(catalog(config_path)))
    started = time.perf_counter()
    process = subprocess.Popen(
        [*TAP, "--config", str(config_path), "--catalog", str(catalog_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    peak = 0
    cpu: dict[int, float] = {}
    stop = threading.Event()
    site_cpu = time.process_time()

    def sample() -> None:
        nonlocal peak
        while not stop.wait(0.05):
            peak = max(peak, tree_usage(process.pid, cpu))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    errors: list[bytes] = []
    # stderr read alongside stdout: a full pipe would stop the tap.
    reader = threading.Thread(target=lambda: errors.extend(process.stderr or []), daemon=True)
    reader.start()
    records = 0
    for line in process.stdout or []:
        if line.startswith(b'{"type":"RECORD","stream":"pages"'):
            records += 1
    stop.set()
    sampler.join()
    # The tap's CPU time with that of its reaped extraction workers.
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    reader.join()
    stderr = b"".join(errors).decode()
    wall = time.perf_counter() - started
    tap_own = cpu.get(process.pid, 0.0)
    workers = sum(seconds for pid, seconds in cpu.items() if pid != process.pid)
    summary = re.search(r"pages: (\d+) done in ([\d.]+) s \(([\d.]+)/s\)(.*)", stderr)
    flight = re.search(r"pages: ([\d.]+) requests in flight on average", stderr)
    if process.returncode != 0 or summary is None:
        sys.exit(f"tap failed ({process.returncode}):\n{stderr[-3000:]}")
    return {
        "records": records,
        "wall_s": round(wall, 2),
        "pages_per_s": float(summary.group(3)),
        "summary": summary.group(0),
        "in_flight_at_extraction": float(flight.group(1)) if flight else None,
        "peak_rss_mb": round(peak / 1e6, 1),
        "cpu_s_tap_and_workers": round(usage.ru_utime + usage.ru_stime, 2),
        "cpu_s_tap_process_sampled": round(tap_own, 2),
        "cpu_s_workers_sampled": round(workers, 2),
        "cpu_s_bench_and_site": round(time.process_time() - site_cpu, 2),
    }


def write_export(path: Path, urls: list[str]) -> None:
    """A Pocket CSV export part with one item per URL."""
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["title", "url", "time_added", "tags", "status"])
        for n, url in enumerate(urls):
            writer.writerow([f"Item {n}", url, 1_600_000_000 + n, "", "unread"])


def demo_urls(site: LocalSite) -> tuple[list[str], dict[str, str]]:
    """The demo export's links, each mapped to a page of the local site (same path kept)."""
    with zipfile.ZipFile(ROOT / "demo" / "pocket.zip") as archive:
        name = next(n for n in archive.namelist() if n.endswith(".csv"))
        rows = list(csv.DictReader(archive.read(name).decode("utf-8").splitlines()))
    names = list(ARTICLES)
    mapping = {}
    for n, row in enumerate(rows):
        # One local page per link; the original address rides along in the query.
        original = quote(row["url"], safe="")
        base = site.base(n % len(site.servers))
        mapping[row["url"]] = f"{base}/article/{names[n % len(names)]}?saved={original}"
    return list(mapping.values()), mapping


def main() -> None:
    """Run the benchmark and print its figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--links", type=int, default=2000)
    parser.add_argument("--delay", type=float, default=0.05)
    parser.add_argument("--hosts", type=int, default=8)
    parser.add_argument("--demo", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, LocalSite(args.hosts, delay=args.delay) as site:
        work = Path(tmp)
        if args.demo:
            urls, _ = demo_urls(site)
        else:
            names = list(ARTICLES)
            urls = [
                f"{site.base(n % args.hosts)}/article/{names[n % len(names)]}?n={n}"
                for n in range(args.links)
            ]
        export = work / "part_000000.csv"
        write_export(export, urls)
        config = {
            "export_path": str(export),
            "fetch_private_addresses": True,  # the local site is on loopback
            "fetch_cache_path": str(work / "pages.sqlite3"),
            "wayback_api_url": site.wayback_url,
        }
        results = {"links": len(urls), "delay_s": args.delay, "hosts": args.hosts}
        results["fetch"] = run_tap(config, work)
        results["site_peak_in_flight"] = site.max_total_in_flight
        results["site_peak_per_host"] = max(site.max_in_flight.values())
        requests = len(site.requests)
        results["cache"] = run_tap(config, work)
        results["cache_requests"] = len(site.requests) - requests
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
