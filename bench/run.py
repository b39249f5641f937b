"""tap-pocket benchmark (issue 8), in one run on one machine.

Export mode, API mode, Meltano -> PostgreSQL, and the alternatives from PyPI on the same
emulated account.

    uv run --group e2e python bench/run.py            # full run (~10 minutes)
    uv run --group e2e python bench/run.py --quick    # small sizes, a smoke run (~2 minutes)

Prints a Markdown table and writes it to bench/results/latest.md (+ latest.json).

How things are measured:
* every measured program is its own process; wall time is from start to exit, peak RSS is
  ``ru_maxrss`` from ``wait4`` (the largest single process of its tree);
* "items/s" is items / wall time, start-up included; "net items/s" is items / (wall time -
  startup), startup being the median wall time of a run that only starts the program
  (``tap-pocket --about``, ``pocket-to-sqlite --version``, ``source-pocket spec``). The
  export (RECORD) and Postgres targets are checked against wall time (what a user waits),
  the API and BATCH targets against the net figure;
* export mode writes its RECORD messages into a pipe that the harness reads as they come,
  as a loader reads a tap's output;
* the emulator runs in a thread of this harness process, so it has the other core and
  its request log counts every /v3/get call. For the "server caps at 30" runs the harness
  lowers each request's ``count`` to 30 before the emulator sees it, as Pocket's classic
  server did (the emulator itself accepts up to 5000).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import functools
import gzip
import json
import math
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import typing as t
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import itertools

import alternatives
from harness import (
    BENCH,
    DOCUMENTED_MAX_COUNT,
    PIPE,
    REPO,
    BenchEmulator,
    Library,
    Run,
    machine,
    make_library,
    package_version,
    postgres_scalar,
    postgres_server,
    singer_record_count,
    singer_record_ids,
    startup_seconds,
    synthetic_export,
    timed_run,
)

from pocket_emulator import Faults
from pocket_emulator.v3_get import flood_body, flood_within
from tap_pocket.api.client import page_cap

RESULTS = BENCH / "results"
BIN = Path(sys.executable).parent
TAP = BIN / "tap-pocket"
MELTANO = BIN / "meltano"
MAX_PAGE_SIZE = 5000

EXPORT_ITEMS_PER_S = 60_000
EXPORT_PEAK_RSS_MB = 150
API_ITEMS_PER_S = 20_000
#: Exports up to this many rows run ``repeats`` times; larger ones once.
MAX_REPEATED_EXPORT_ROWS = 100_000
POSTGRES_ROWS_PER_S = 10_000


@dataclass(frozen=True)
class Sizes:
    """The sizes of a run: export rows, API items and page sizes, Postgres rows, repeats.

    ``flood_page_size``: the page_size of the hostile answer packed to its cap.
    """

    exports: tuple[int, ...]
    api_items: int
    api_page_sizes: tuple[int, ...]
    postgres_rows: int
    repeats: int
    flood_page_size: int


FULL = Sizes((100_000, 1_000_000), 10_000, (5000, 3000, 1000, 30), 100_000, 5, 5000)
QUICK = Sizes((10_000, 50_000), 2_000, (5000, 300, 30), 5_000, 1, 1000)
#: The peak RSS no answer within the page cap may take the tap past.
FLOOD_PEAK_RSS_MB = 300


@dataclass
class Row:
    """One line of the table."""

    scenario: str
    tool: str = "tap-pocket"
    items: int | None = None
    expected_items: int | None = None
    seconds: float | None = None
    startup_seconds: float | None = None
    requests: int | None = None
    min_requests: int | None = None
    peak_rss_mb: float | None = None
    target: str = ""
    passed: bool | None = None
    note: str = ""
    extra: dict[str, t.Any] = field(default_factory=dict)

    @property
    def items_per_s(self) -> float | None:
        """Items per second of wall time."""
        if self.items is None or not self.seconds:
            return None
        return self.items / self.seconds

    @property
    def net_items_per_s(self) -> float | None:
        """Items per second of wall time less the start-up time."""
        if self.items is None or not self.seconds or self.startup_seconds is None:
            return None
        return self.items / max(self.seconds - self.startup_seconds, 1e-3)

    @property
    def all_items(self) -> bool | None:
        """Whether every expected item came (None if not known)."""
        if self.items is None or self.expected_items is None:
            return None
        return self.items == self.expected_items


# ---------------------------------------------------------------- tap-pocket


def tap_startup() -> float:
    """The tap's start-up time: the median wall time of 5 ``tap-pocket --about``."""
    return startup_seconds([str(TAP), "--about"], repeats=5)


def median_run(runs: list[t.Any]) -> t.Any:
    """The run of median wall time (of an odd number of runs; the lower middle otherwise)."""
    ordered = sorted(runs, key=lambda r: r[0].seconds)
    return ordered[(len(ordered) - 1) // 2]


def export_scenario(
    rows: int, startup: float, workdir: Path, repeats: int, *, batch: bool = False
) -> Row:
    """tap-pocket on a generated pocket.zip, its messages read from a pipe.

    The target is on wall time, start-up included: what a user waits for the rows. With
    ``batch``, the SDK's BATCH mode: the rows go to gzipped JSON Lines files (counted
    afterwards) and only BATCH messages to stdout; its target stays on the net figure (the
    files are compressed and written, not streamed).
    """
    export, expected = synthetic_export(rows)
    config_values: dict[str, t.Any] = {"export_path": str(export)}
    batches = workdir / f"batches-{rows}"
    if batch:
        config_values["batch_config"] = {
            "encoding": {"format": "jsonl", "compression": "gzip"},
            "storage": {"root": batches.as_uri()},
        }
    config = workdir / f"export-{rows}{'-batch' if batch else ''}.json"
    config.write_text(json.dumps(config_values))
    runs = []
    for i in range(repeats if rows <= MAX_REPEATED_EXPORT_ROWS else 1):
        shutil.rmtree(batches, ignore_errors=True)
        batches.mkdir()
        stderr = workdir / f"export-{rows}-{i}.stderr"
        run = timed_run([str(TAP), "--config", str(config)], stdout=PIPE, stderr=stderr)
        items = batch_row_count(batches, "items") if batch else singer_record_count(stderr, "items")
        runs.append((run, items))
    shutil.rmtree(batches, ignore_errors=True)
    run, items = median_run(runs)
    mode = "BATCH (jsonl.gz files)" if batch else "RECORD messages"
    speed = "net items/s" if batch else "items/s (wall, start-up included)"
    row = Row(
        scenario=f"export mode, {rows:,} rows, {mode} -> a pipe",
        items=items,
        expected_items=expected,
        seconds=run.seconds,
        startup_seconds=startup,
        peak_rss_mb=run.peak_rss_mb,
        target=f">= {EXPORT_ITEMS_PER_S:,} {speed}, peak RSS < {EXPORT_PEAK_RSS_MB} MB",
        note=f"{run.stdout_lines or 0:,} messages read from the pipe",
    )
    _check_exit(row, run)
    if row.passed is None:
        measured = row.net_items_per_s if batch else row.items_per_s
        row.passed = bool(
            row.all_items
            and (measured or 0) >= EXPORT_ITEMS_PER_S
            and run.peak_rss_mb < EXPORT_PEAK_RSS_MB
        )
    return row


def batch_row_count(folder: Path, stream: str) -> int:
    """Rows in the gzipped JSON Lines batch files a run wrote for ``stream``."""
    return sum(
        gzip.decompress(path.read_bytes()).count(b"\n")
        for path in folder.glob(f"*--{stream}-*.json.gz")
    )


def min_requests(items: int, page_size: int, cap: int | None) -> int:
    """One request per page the server serves, plus the final empty page."""
    served = min(page_size, cap or MAX_PAGE_SIZE)
    return math.ceil(items / served) + 1


def api_config(emulator: BenchEmulator, page_size: int, path: Path) -> Path:
    """The tap's config file at ``path``: the emulator's address and credentials."""
    path.write_text(
        json.dumps(
            {
                "api_url": emulator.url,
                "consumer_key": emulator.consumer_key,
                "access_token": emulator.access_token,
                "page_size": page_size,
            }
        )
    )
    return path


def api_scenario(  # noqa: PLR0913, PLR0917 (guarded() hands the arguments on positionally)
    library: Library, page_size: int, cap: int | None, startup: float, workdir: Path, repeats: int
) -> Row:
    """tap-pocket against the emulator; output kept in a file to check every item came."""
    runs = []
    for i in range(repeats):
        with BenchEmulator(library.account, cap=cap) as emulator:
            config = api_config(emulator, page_size, workdir / f"api-{page_size}-{cap}.json")
            out = workdir / f"api-{page_size}-{cap}-{i}.jsonl"
            run = timed_run(
                [str(TAP), "--config", str(config)], stdout=out, stderr=out.with_suffix(".stderr")
            )
            runs.append((run, emulator.get_requests, out, emulator.server_seconds))
    run, requests, out, server_seconds = median_run(runs)
    ids = singer_record_ids(out, "items", "item_id")
    expected = len(library.item_ids)
    server = f"server caps count at {cap}" if cap else "server serves up to 5000"
    row = Row(
        scenario=f"API mode, page_size {page_size}, {server}",
        items=len(set(ids) & library.item_ids),
        expected_items=expected,
        seconds=run.seconds,
        startup_seconds=startup,
        requests=requests,
        min_requests=min_requests(expected, page_size, cap),
        peak_rss_mb=run.peak_rss_mb,
        note=f"emulator built its answers in {server_seconds:.2f} s"
        + _median_note(runs)
        + _duplicates_note(ids),
    )
    fast_enough = True
    if page_size == MAX_PAGE_SIZE and cap is None:
        row.target = f">= {API_ITEMS_PER_S:,} net items/s, no wasted request"
        fast_enough = (row.net_items_per_s or 0) >= API_ITEMS_PER_S
    else:
        row.target = "no wasted request"
    _check_exit(row, run)
    if row.passed is None:
        no_waste = all(r[1] == row.min_requests for r in runs)
        row.passed = bool(row.all_items and no_waste and fast_enough)
    return row


def flood_scenario(page_size: int, startup: float, workdir: Path) -> Row:
    """One answer packed to the page cap with the smallest items, ``"<id>":{}``.

    A hostile or broken server: millions of entries in the bytes the cap lets in. The
    memory of the tap must stay bounded by those bytes, not grow with the entries; each
    entry is a row. Messages go to /dev/null (gigabytes); the SDK's record count counts.
    """
    cap = page_cap(page_size)
    entries = flood_within(cap)
    library = make_library(1)
    with BenchEmulator(library.account) as emulator:
        emulator.faults = Faults().flood(entries)
        config = api_config(emulator, page_size, workdir / f"flood-{page_size}.json")
        stderr = workdir / f"flood-{page_size}.stderr"
        run = timed_run([str(TAP), "--config", str(config)], stderr=stderr)
        requests = emulator.get_requests
    row = Row(
        scenario=(
            f"API mode, hostile: page_size {page_size}, one answer of {entries:,} tiny "
            f"entries ({len(flood_body(0, entries)) >> 20} MiB, the cap is {cap >> 20} MiB)"
        ),
        items=singer_record_count(stderr, "items"),
        expected_items=entries,
        seconds=run.seconds,
        startup_seconds=startup,
        requests=requests,
        min_requests=2,
        peak_rss_mb=run.peak_rss_mb,
        target=f"every entry a row, peak RSS < {FLOOD_PEAK_RSS_MB} MB",
    )
    _check_exit(row, run)
    if row.passed is None:
        row.passed = bool(row.all_items and run.peak_rss_mb < FLOOD_PEAK_RSS_MB)
    return row


def _median_note(runs: list[t.Any]) -> str:
    counts = sorted({r[1] for r in runs})
    return "" if len(counts) <= 1 else f"; requests per run varied: {counts}"


def _duplicates_note(ids: list[str]) -> str:
    duplicates = len(ids) - len(set(ids))
    return f"; {duplicates} item records emitted twice" if duplicates else ""


def _check_exit(row: Row, run: Run) -> None:
    if run.returncode != 0:
        row.passed = False
        row.note = f"exit code {run.returncode}: {run.stderr_tail(2)}"


# ---------------------------------------------------------------- Meltano -> PostgreSQL


WARMUP_ROWS = 1_000


def postgres_scenario(rows: int, workdir: Path, *, batch: bool = False) -> Row:
    """``meltano run tap-pocket target-postgres`` on a generated export of ``rows`` rows.

    It loads into a throwaway PostgreSQL; rows/s = rows in pocket.items / wall time of the
    run. A 1,000-row run into another database goes first: it warms the plugins' bytecode
    caches, and its wall time (Meltano and both plugins starting, almost no rows) is
    what the "net" figure subtracts.
    """
    mode = ", BATCH messages" if batch else ""
    row = Row(
        scenario=f"meltano run tap-pocket target-postgres, {rows:,}-row export{mode}",
        target=f">= {POSTGRES_ROWS_PER_S:,} rows/s (wall time)",
    )
    workdir = workdir / ("postgres-batch" if batch else "postgres")
    workdir.mkdir(parents=True, exist_ok=True)
    export, row.expected_items = synthetic_export(rows)
    if not MELTANO.exists():
        return _unavailable(row, f"no meltano next to {sys.executable} (use --group e2e)")
    try:
        server = postgres_server()
    except Exception as exc:  # noqa: BLE001 (whatever stops it, the row says n/a and why)
        return _unavailable(row, f"PostgreSQL did not start: {exc}")
    try:
        _ensure_meltano_plugins(workdir)
        warmup_export = synthetic_export(WARMUP_ROWS)[0]
        warmup = _meltano_run(workdir / "warmup", warmup_export, server, batch=batch)
        run = _meltano_run(workdir / "pocket", export, server, batch=batch)
        for done in (warmup, run):
            if done.returncode != 0:
                reason = f"meltano run exited {done.returncode}: {done.stderr_tail(3)}"
                return _unavailable(row, reason)
        row.items = int(postgres_scalar(server, "pocket", "select count(*) from pocket.items"))
        received = _target_received(run)
        if received is None or (received["batch manifests"] > 0) != batch:
            got = "nothing" if received is None else f"{received}"
            return _unavailable(row, f"target-postgres did not get what the mode sends: {got}")
        row.seconds, row.peak_rss_mb = run.seconds, run.peak_rss_mb
        row.startup_seconds = warmup.seconds
        row.extra["postgres"] = _postgres_version(server)
        row.extra["target_postgres"] = _plugin_version(
            "loaders/target-postgres", "meltanolabs_target_postgres"
        )
        row.passed = bool(row.all_items and (row.items_per_s or 0) >= POSTGRES_ROWS_PER_S)
        row.note = (
            f"PostgreSQL {row.extra['postgres']}, target-postgres {row.extra['target_postgres']} "
            f"(upsert); net = after subtracting a {WARMUP_ROWS:,}-row run "
            f"({warmup.seconds:.1f} s: Meltano and both plugins starting); "
            "peak RSS = largest single process; the target received "
            + ", ".join(f"{n:,} {what}" for what, n in received.items())
        )
        if batch:
            stamped = postgres_scalar(
                server, "pocket", "select count(_sdc_batched_at) from pocket.items"
            )
            row.note += f"; rows with _sdc_batched_at: {int(stamped):,} (none on BATCH rows)"
    finally:
        server.stop()
    return row


def _target_received(run: Run) -> dict[str, int] | None:
    """What target-postgres says it read: records and batch manifests (its last summary)."""
    if run.stderr_path is None or not run.stderr_path.exists():
        return None
    found = None
    for line in run.stderr_path.read_text(errors="replace").splitlines():
        match = re.search(r"(\d+) records, (\d+) batch manifests", line)
        if match:
            found = {"records": int(match[1]), "batch manifests": int(match[2])}
    return found


def _meltano_run(workdir: Path, export: Path, server: t.Any, *, batch: bool = False) -> Run:
    """One ``meltano run`` into database ``workdir.name``, with its own system database.

    With ``batch``, the tap writes gzipped JSON Lines batch files and sends BATCH messages,
    which target-postgres loads file by file.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    server.create_database(workdir.name)
    env = _meltano_env(workdir, export, server)
    if batch:
        batches = workdir / "batches"
        batches.mkdir(exist_ok=True)
        # Meltano writes the tap's config from the settings meltano.yml declares, and
        # batch_config is declared by its nested keys: one variable each. (A single
        # TAP_POCKET_BATCH_CONFIG object never reached the tap: the run stayed RECORD.)
        env.update(
            TAP_POCKET_BATCH_CONFIG_ENCODING_FORMAT="jsonl",
            TAP_POCKET_BATCH_CONFIG_ENCODING_COMPRESSION="gzip",
            TAP_POCKET_BATCH_CONFIG_STORAGE_ROOT=batches.as_uri(),
        )
    env["TARGET_POSTGRES_DATABASE"] = workdir.name  # "warmup", "pocket"
    args = [str(MELTANO), "--env-file", str(workdir / "empty.env"), "run", "tap-pocket",
            "target-postgres"]  # fmt: skip
    return timed_run(args, stderr=workdir / "meltano.log", env=env, cwd=REPO)


def _ensure_meltano_plugins(workdir: Path) -> None:
    """Install the two plugins into .meltano/ only when missing (as the e2e tests do)."""
    needed = {"tap-pocket": "extractors/tap-pocket", "target-postgres": "loaders/target-postgres"}
    missing = [
        name for name, path in needed.items() if not (REPO / ".meltano" / path / "venv").exists()
    ]
    if missing:
        subprocess.run(
            [str(MELTANO), "--env-file", str(workdir / "empty.env"), "install", *missing],
            cwd=REPO,
            env=_scrubbed_env(workdir),
            check=True,
            timeout=1800,
        )


def _scrubbed_env(workdir: Path) -> dict[str, str]:
    (workdir / "empty.env").touch()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TAP_POCKET_", "TARGET_", "MELTANO_", "VIRTUAL_ENV"))
    }
    env.update(
        MELTANO_DATABASE_URI=f"sqlite:///{workdir / 'meltano.db'}",  # not the project's state
        MELTANO_SEND_ANONYMOUS_USAGE_STATS="false",
        MELTANO_HUB_URL="http://127.0.0.1:9",
        MELTANO_HUB_API_ROOT="http://127.0.0.1:9/meltano/api/v1",
        NO_COLOR="1",
    )
    return env


def _meltano_env(workdir: Path, export: Path, server: t.Any) -> dict[str, str]:
    env = _scrubbed_env(workdir)
    env.update(
        MELTANO_ENVIRONMENT="export",
        TAP_POCKET_EXPORT_PATH=str(export),
        TARGET_POSTGRES_HOST=server.host,
        TARGET_POSTGRES_PORT=str(server.port),
        TARGET_POSTGRES_USER=server.user,
        TARGET_POSTGRES_PASSWORD=server.password,
    )
    return env


def _postgres_version(server: t.Any) -> str:
    done = subprocess.run(
        [str(server.bin_dir / "postgres"), "--version"], capture_output=True, text=True, check=False
    )
    return done.stdout.strip().rsplit(" ", 1)[-1]


def _plugin_version(plugin: str, distribution: str) -> str:
    venv_lib = REPO / ".meltano" / plugin / "venv" / "lib"
    found = list(venv_lib.glob(f"python*/site-packages/{distribution}-*.dist-info"))
    return found[0].name[len(distribution) + 1 : -len(".dist-info")] if found else "?"


def _unavailable(row: Row, reason: str) -> Row:
    row.passed = None
    row.note = f"n/a: {reason}"
    return row


# ---------------------------------------------------------------- the alternatives


def alternative_scenario(
    name: str, runner: t.Callable[..., t.Any], library: Library, cap: int | None, workdir: Path
) -> Row:
    """One alternative against the emulator: items got, speed, and how it paginated."""
    server = f"server caps count at {cap}" if cap else "server serves up to 5000"
    expected = len(library.item_ids)
    row = Row(
        scenario=f"{name}, API, {server}", tool=name, expected_items=expected, target="(comparison)"
    )
    try:
        with BenchEmulator(library.account, cap=cap) as emulator:
            outcome = runner(emulator, workdir)
            asked = list(emulator.asked)
    except alternatives.UnavailableError as exc:
        return _unavailable(row, str(exc))
    got = set(outcome.item_ids) & library.item_ids
    row.items, row.seconds, row.startup_seconds = len(got), outcome.run.seconds, outcome.startup
    row.requests, row.peak_rss_mb = len(asked), outcome.run.peak_rss_mb
    row.note = _pagination_note(asked) + _missing_note(library, got) + _sleep_note(row, outcome)
    row.extra["asked"] = _asked_summary(asked)
    return row


def _sleep_note(row: Row, outcome: t.Any) -> str:
    if not outcome.slept or row.items is None or row.seconds is None:
        return ""
    awake = row.items / max(row.seconds - outcome.slept, 1e-3)
    return (
        f"; {outcome.slept:.0f} s of the wall time are its own sleep(2) after each page "
        f"(without them: {awake:,.0f} items/s)"
    )


def _asked_summary(asked: list[tuple[int | None, int | None]]) -> dict[str, t.Any]:
    counts = sorted({c for c, _ in asked if c is not None})
    offsets = [o or 0 for _, o in asked]
    steps = sorted({b - a for a, b in itertools.pairwise(offsets)})
    return {"counts": counts, "offset_steps": steps}


def _pagination_note(asked: list[tuple[int | None, int | None]]) -> str:
    summary = _asked_summary(asked)
    counts = "/".join(map(str, summary["counts"])) or "default"
    steps = "/".join(map(str, summary["offset_steps"])) or "-"
    return f"asks count={counts}, advances offset by {steps}"


def _missing_note(library: Library, got: set[str]) -> str:
    missing = library.item_ids - got
    if not missing:
        return "; got every item"
    note = f"; missed {len(missing):,} of {len(library.item_ids):,} items"
    if missing == library.favorite_ids:
        note += " (exactly the favorites: it sends favorite=0, 'non-favorites only')"
    return note


def comparison(rows: list[Row]) -> list[dict[str, t.Any]]:
    """Each alternative beside tap-pocket at page_size 5000 on the same server."""
    ours = {
        r.scenario.rsplit(", ", 1)[-1]: r
        for r in rows
        if r.tool == "tap-pocket" and r.scenario.startswith(f"API mode, page_size {MAX_PAGE_SIZE},")
    }
    out = []
    for r in rows:
        if r.tool == "tap-pocket" or not r.scenario:
            continue
        server = r.scenario.rsplit(", ", 1)[-1]
        tap = ours.get(server)
        out.append(
            {
                "alternative": r.tool,
                "server": server,
                "items": r.items,
                "expected_items": r.expected_items,
                "requests": r.requests,
                "items_per_s": r.items_per_s,
                "net_items_per_s": r.net_items_per_s,
                "tap_items_per_s": tap.items_per_s if tap else None,
                "tap_net_items_per_s": tap.net_items_per_s if tap else None,
                "tap_requests": tap.requests if tap else None,
                "ratio": _ratio(tap.items_per_s if tap else None, r.items_per_s),
                "net_ratio": _ratio(tap.net_items_per_s if tap else None, r.net_items_per_s),
                "note": r.note,
            }
        )
    return out


def _ratio(ours: float | None, theirs: float | None) -> float | None:
    return ours / theirs if ours and theirs else None


# ---------------------------------------------------------------- the report


def _fmt(value: float | None, digits: int = 0) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def _verdict(row: Row) -> str:
    if row.passed is None:
        return "n/a" if row.note.startswith("n/a") else "-"
    return "pass" if row.passed else "FAIL"


def markdown(rows: list[Row], compared: list[dict[str, t.Any]], info: dict[str, t.Any]) -> str:
    """The results as Markdown: the table, the comparison, notes, method and machine."""
    lines = [
        (
            "| Scenario | Items (of expected) | Seconds | Items/s | Net items/s "
            "| Requests (minimum) | Peak RSS MB | Target | Result |"
        ),
        "|---|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in rows:
        items = "n/a" if r.items is None else f"{r.items:,}"
        if r.expected_items is not None and r.items is not None and r.items != r.expected_items:
            items += f" of {r.expected_items:,}"
        requests = "" if r.requests is None else f"{r.requests:,}"
        if r.min_requests is not None:
            requests += f" ({r.min_requests:,})"
        lines.append(
            f"| {r.scenario} | {items} | {_fmt(r.seconds, 2)} | {_fmt(r.items_per_s)} "
            f"| {_fmt(r.net_items_per_s)} | {requests} | {_fmt(r.peak_rss_mb, 1)} "
            f"| {r.target} | {_verdict(r)} |"
        )
    if compared:
        lines += _comparison_lines(compared)
    notes = [r for r in rows if r.note and r.tool == "tap-pocket"]
    if notes:
        lines += ["", *[f"- {r.scenario}: {r.note}" for r in notes]]
    for line in [*method_lines(info), machine_line(info), f"Command: `{info['command']}`"]:
        lines += ["", line]
    return "\n".join(lines) + "\n"


def _comparison_lines(compared: list[dict[str, t.Any]]) -> list[str]:
    lines = [
        "",
        "Alternatives beside tap-pocket (page_size 5000) on the same server and account:",
        "",
        (
            "| Alternative | Server | Items got | Requests (tap-pocket's) "
            "| Items/s (tap-pocket's) | tap-pocket is x times faster (wall / net) | What it did |"
        ),
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for c in compared:
        got = "n/a" if c["items"] is None else f"{c['items']:,} of {c['expected_items']:,}"
        lines.append(
            f"| {c['alternative']} | {c['server']} | {got} | {c['requests'] or 'n/a'} "
            f"({c['tap_requests'] or 'n/a'}) "
            f"| {_fmt(c['items_per_s'])} ({_fmt(c['tap_items_per_s'])}) "
            f"| {_fmt(c['ratio'], 1)} / {_fmt(c['net_ratio'], 1)} | {c['note']} |"
        )
    return lines


def method_lines(info: dict[str, t.Any]) -> list[str]:
    """The paragraphs that say how the figures were measured."""
    repeats = info["repeats"]
    runs = (
        f"median of {repeats} runs by wall time (the 1M-row export: one run)"
        if repeats > 1
        else "one run each"
    )
    return [
        (
            "How: each program runs as its own process (peak RSS: its largest process). Items/s"
            " = items / wall time, start-up included; net items/s = items / (wall time -"
            f" start-up), start-up being the median of 5 `tap-pocket --about`"
            f" ({info['tap_startup']:.2f} s), of 3 `pocket-to-sqlite --version` or"
            " `source-pocket spec`, or, for Meltano, a 1,000-row pipeline run. The export"
            " (RECORD) and Postgres targets are checked on wall time (start-up included), the"
            " API and export BATCH targets on net items/s."
        ),
        (
            f"tap-pocket rows: {runs}. Export mode writes into a pipe the harness reads as"
            " the lines come (as a loader reads a tap); API mode runs (all programs) keep"
            " their output to check which items came: tap-pocket and source-pocket write"
            " their messages to a file, pocket-to-sqlite its SQLite database (with full-text"
            " index), its own way of working."
        ),
        (
            "Emulator: a generated account (seed 0), served from a thread of the harness"
            ' process; it counts every /v3/get call. "Server caps count at 30": the harness'
            " lowers each request's count to 30 before the emulator sees it, as Pocket's"
            " documented limit. The alternatives' hard-coded https://getpocket.com is"
            " redirected to the emulator by bench/redirect/sitecustomize.py, loaded only into"
            " their processes."
        ),
    ]


def machine_line(info: dict[str, t.Any]) -> str:
    """The paragraph that describes the machine and the run."""
    m = info["machine"]
    dirty = ", with uncommitted changes" if m["uncommitted_changes"] else ""
    return (
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['ram_gb']} GB RAM, {m['os']}; "
        f"Python {m['python']}; tap-pocket {info['versions']['tap-pocket']} "
        f"(commit {m['commit']}{dirty}), "
        f"singer-sdk {info['versions']['singer-sdk']}, meltano {info['versions']['meltano']}; "
        f"alternatives: {info['versions'].get('alternatives', '')}; tap startup "
        f"(`tap-pocket --about`, median of 5) {info['tap_startup']:.2f} s; "
        f"run {info['started']}, {info['total_seconds'] / 60:.1f} min; load average at start "
        f"{info['load_at_start']}, at end {m['load_average'][0]} (1 min)."
    )


def write_results(
    text: str, rows: list[Row], compared: list[dict[str, t.Any]], info: dict[str, t.Any]
) -> None:
    """Write bench/results/latest.md (``text``) and latest.json (everything measured)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.md").write_text(text)
    data = {
        **info,
        "rows": [
            {
                **asdict(r),
                "items_per_s": r.items_per_s,
                "net_items_per_s": r.net_items_per_s,
                "all_items": r.all_items,
            }
            for r in rows
        ],
        "alternatives": compared,
    }
    (RESULTS / "latest.json").write_text(json.dumps(data, indent=2) + "\n")


# ---------------------------------------------------------------- main


def guarded(
    rows: list[Row],
    scenario: str,
    make: t.Callable[..., Row],
    *args: t.Any,
    tool: str = "tap-pocket",
) -> None:
    """Run one scenario; a crash becomes an n/a row, and the other scenarios still run."""
    started = time.perf_counter()
    print(f"[bench] {scenario} ...", file=sys.stderr, flush=True)
    try:
        row = make(*args)
    except Exception as exc:  # noqa: BLE001 (a crash becomes an n/a row, see above)
        traceback.print_exc()
        row = _unavailable(Row(scenario=scenario, tool=tool), f"{type(exc).__name__}: {exc}")
    print(
        f"[bench]   {time.perf_counter() - started:.1f} s: {_verdict(row)} "
        f"{_fmt(row.net_items_per_s)} net items/s {row.note}",
        file=sys.stderr,
        flush=True,
    )
    rows.append(row)


def alternative_versions() -> str:
    """The installed alternatives, each with its Python version."""
    parts = [
        f"{alt.requirement} (Python {alternatives.python_version(alt)})"
        for alt in (alternatives.POCKET_TO_SQLITE, alternatives.AIRBYTE_SOURCE_POCKET)
        if (alt.venv / ".bench-installed").exists()
    ]
    return ", ".join(parts)


def run_all(sizes: Sizes, workdir: Path, skip: set[str]) -> tuple[list[Row], float]:
    """Every scenario not in ``skip``: the rows, and the tap's start-up time."""
    rows: list[Row] = []
    startup = tap_startup()
    if "export" not in skip:
        for n in sizes.exports:
            guarded(rows, f"export {n}", export_scenario, n, startup, workdir, sizes.repeats)
            guarded(
                rows,
                f"export {n} batch",
                functools.partial(export_scenario, batch=True),
                n,
                startup,
                workdir,
                sizes.repeats,
            )
    library = make_library(sizes.api_items)
    if "api" not in skip:
        for page_size in sizes.api_page_sizes:
            guarded(
                rows,
                f"API page_size {page_size}",
                api_scenario,
                library,
                page_size,
                None,
                startup,
                workdir,
                sizes.repeats,
            )
        guarded(
            rows,
            f"API page_size {MAX_PAGE_SIZE}, capped",
            api_scenario,
            library,
            MAX_PAGE_SIZE,
            DOCUMENTED_MAX_COUNT,
            startup,
            workdir,
            sizes.repeats,
        )
        guarded(
            rows,
            f"API flood at page_size {sizes.flood_page_size}",
            flood_scenario,
            sizes.flood_page_size,
            startup,
            workdir,
        )
    if "postgres" not in skip:
        guarded(rows, "postgres", postgres_scenario, sizes.postgres_rows, workdir)
        guarded(
            rows,
            "postgres batch",
            functools.partial(postgres_scenario, batch=True),
            sizes.postgres_rows,
            workdir,
        )
    if "alternatives" not in skip:
        runners = (
            ("pocket-to-sqlite", alternatives.run_pocket_to_sqlite),
            ("airbyte-source-pocket", alternatives.run_airbyte),
        )
        for name, runner in runners:
            for cap in (None, DOCUMENTED_MAX_COUNT):
                guarded(
                    rows,
                    f"{name} cap={cap}",
                    alternative_scenario,
                    name,
                    runner,
                    library,
                    cap,
                    workdir,
                    tool=name,
                )
    return rows, startup


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line's options (``argv`` None: this process's)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        choices=["export", "api", "postgres", "alternatives"],
        help="leave out a group of scenarios (repeatable)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work folder (outputs, logs)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the table and write bench/results/."""
    args = parse_args(argv)
    sizes = QUICK if args.quick else FULL
    started, clock = dt.datetime.now(dt.timezone.utc), time.perf_counter()
    load_at_start = round(os.getloadavg()[0], 2)
    workdir = Path(tempfile.mkdtemp(prefix="tap-pocket-bench-"))
    try:
        rows, startup = run_all(sizes, workdir, set(args.skip))
    finally:
        if args.keep:
            print(f"[bench] work folder kept: {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    info = {
        "command": "uv run --group e2e python bench/run.py"
        + "".join(" " + shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])),
        "quick": args.quick,
        "repeats": sizes.repeats,
        "load_at_start": load_at_start,
        "started": started.strftime("%Y-%m-%d %H:%M UTC"),
        "total_seconds": time.perf_counter() - clock,
        "machine": machine(),
        "tap_startup": startup,
        "versions": {
            "tap-pocket": package_version("tap-pocket"),
            "singer-sdk": package_version("singer-sdk"),
            "meltano": package_version("meltano"),
            "alternatives": alternative_versions(),
        },
    }
    compared = comparison(rows)
    text = markdown(rows, compared, info)
    print(text)
    write_results(text, rows, compared, info)
    with contextlib.suppress(ValueError):
        print(
            f"[bench] written: {RESULTS.relative_to(REPO)}/latest.md, latest.json", file=sys.stderr
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
