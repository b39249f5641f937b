"""End to end, in one run: ``meltano run tap-pocket target-duckdb``, its parts, and dlt.

    scripts/uv run --group e2e --group bench python bench/end_to_end.py           # ~25 min
    scripts/uv run --group e2e --group bench python bench/end_to_end.py --quick   # ~2 min

On a generated 100k-row export and a 10k-item API account (the emulator, at page_size
5000, at the default and at Pocket's documented 30), it times, each the median of
``--repeats`` runs:

- ``meltano run tap-pocket target-duckdb`` as a user runs it (a fresh system database
  and DuckDB file each time, so a full load; discovery runs, as the project's
  ``pip_url: -e .`` keeps Meltano from caching the catalog);
- the same with the ``catalog`` extra set to a discovered catalog (what a cached
  catalog saves: one tap start-up and discovery);
- ``meltano run --dry-run``: Meltano's own start-up (project, plugins, settings);
- the tap alone (``--config --catalog`` to a file), discovery alone (``--discover``),
  and target-duckdb alone reading the tap's recorded output;
- dlt pipelines doing the same loads (bench/dlt_pipelines.py): filesystem source +
  ``read_csv_duckdb`` + merge on url; ``rest_api`` source with POST body pagination.

It writes bench/results/end_to_end.md and .json. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import typing as t
from dataclasses import asdict, dataclass
from pathlib import Path

from harness import (
    BENCH,
    REPO,
    BenchEmulator,
    Run,
    machine,
    make_library,
    package_version,
    synthetic_export,
    timed_run,
)

from tap_pocket.settings import DEFAULTS  # harness puts the repository on sys.path

RESULTS = BENCH / "results"
DEFAULT_PAGE_SIZE = int(DEFAULTS["page_size"])
BIN = Path(sys.executable).parent
MELTANO = BIN / "meltano"
PYTHON = Path(sys.executable)
TAP = REPO / ".meltano" / "extractors" / "tap-pocket" / "venv" / "bin" / "tap-pocket"
TARGET = REPO / ".meltano" / "loaders" / "target-duckdb" / "venv" / "bin" / "target-duckdb"
DLT = BENCH / "dlt_pipelines.py"


@dataclass
class Row:
    """One measured command: the median and every run's seconds."""

    dataset: str
    step: str
    seconds: float
    runs: list[float]
    rows: int | None = None
    note: str = ""
    #: Median CPU seconds (user + system, the command and its children) and every run's.
    cpu: float = 0.0
    cpu_runs: list[float] | None = None


def scrubbed_env(work: Path) -> dict[str, str]:
    """The environment of every child: no TAP_/TARGET_/MELTANO_ setting of this shell."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TAP_POCKET_", "TARGET_", "MELTANO_", "VIRTUAL_ENV"))
    }
    env.update(
        MELTANO_SEND_ANONYMOUS_USAGE_STATS="false",
        MELTANO_HUB_URL="http://127.0.0.1:9",
        MELTANO_HUB_API_ROOT="http://127.0.0.1:9/meltano/api/v1",
        NO_COLOR="1",
    )
    (work / "empty.env").touch()
    return env


Measured = tuple[float, list[float], float, list[float]]


def median_run(count: int, make: t.Callable[[int], Run]) -> Measured:
    """Run ``make(i)`` ``count`` times: median and all wall seconds, then CPU seconds."""
    seconds, cpu = [], []
    for i in range(count):
        run = make(i)
        if run.returncode != 0:
            message = f"{' '.join(run.args[:4])} ... exited {run.returncode}:\n{run.stderr_tail()}"
            raise RuntimeError(message)
        seconds.append(run.seconds)
        cpu.append(run.cpu_seconds)
    return statistics.median(seconds), seconds, statistics.median(cpu), cpu


def duckdb_count(database: Path, table: str) -> int:
    """Rows of ``table`` in the DuckDB file ``database``."""
    import duckdb

    with duckdb.connect(str(database), read_only=True) as connection:
        row = connection.sql(f"select count(*) from {table}").fetchone()  # noqa: S608
    return int(row[0]) if row else 0


class Dataset:
    """One source (export file or emulated account) and how each tool is pointed at it."""

    def __init__(self, name: str, tap_config: dict[str, t.Any], dlt_args: list[str]) -> None:
        self.name = name
        self.tap_config = tap_config
        self.dlt_args = dlt_args

    def meltano_env(self, env: dict[str, str], work: Path, i: int) -> dict[str, str]:
        """``env`` with run ``i``'s system database, DuckDB file and the tap's settings."""
        out = dict(env)
        out["MELTANO_DATABASE_URI"] = f"sqlite:///{work / f'meltano-{i}.db'}"
        out["TARGET_DUCKDB_PATH"] = str(work / f"meltano-{i}.duckdb")
        for key, value in self.tap_config.items():
            out[f"TAP_POCKET_{key.upper()}"] = str(value)
        return out


def measure(dataset: Dataset, work: Path, env: dict[str, str], repeats: int) -> list[Row]:
    """Every step of one dataset, in the order a reader follows them."""
    work.mkdir(parents=True)
    rows: list[Row] = []
    config = work / "tap.json"
    config.write_text(json.dumps(dataset.tap_config))
    catalog = work / "catalog.json"
    target_config = work / "target.json"

    def add(step: str, result: Measured, count: int | None = None, note: str = "") -> None:
        rows.append(Row(dataset.name, step, result[0], result[1], count, note, result[2],
                        result[3]))  # fmt: skip
        print(f"  {dataset.name}: {step}: {result[0]:.2f} s, {result[2]:.2f} s CPU "
              f"{count or ''}", flush=True)  # fmt: skip

    # Discovery alone, and the catalog every later tap run gets.
    add("tap --discover", median_run(repeats, lambda _i: timed_run(
        [str(TAP), "--config", str(config), "--discover"], stdout=catalog, env=env)))  # fmt: skip

    # The tap alone, its output recorded for the loader alone.
    recorded = work / "tap-output.singer"
    add("tap alone (--config --catalog > file)", median_run(repeats, lambda _i: timed_run(
        [str(TAP), "--config", str(config), "--catalog", str(catalog)],
        stdout=recorded, stderr=work / "tap.log", env=env)))  # fmt: skip
    lines = recorded.read_bytes().splitlines()
    records = sum(1 for line in lines if line.startswith(b'{"type":"RECORD","stream":"items"'))
    schemas = sum(1 for line in lines if line.startswith(b'{"type":"SCHEMA"'))
    rows[-1].rows = records
    rows[-1].note = f"{schemas} SCHEMA messages"

    def target_run(i: int) -> Run:
        database = work / f"target-{i}.duckdb"
        target_config.write_text(json.dumps(
            {"path": str(database), "default_target_schema": "main",
             "add_metadata_columns": False, "hard_delete": False}))  # fmt: skip
        return timed_run(
            ["/bin/sh", "-c", f'exec "{TARGET}" --config "{target_config}" < "{recorded}"'],
            stderr=work / "target.log", env=env,
        )  # fmt: skip

    add("target-duckdb alone (< recorded output)", median_run(repeats, target_run))

    add("meltano run --dry-run (Meltano start-up)", median_run(repeats, lambda i: timed_run(
        [str(MELTANO), "--env-file", str(work / "empty.env"), "run", "--dry-run",
         "tap-pocket", "target-duckdb"],
        stderr=work / "dry.log", env=dataset.meltano_env(env, work, 100 + i),
        cwd=REPO)))  # fmt: skip

    def meltano_run(i: int, *, with_catalog: bool) -> Run:
        run_env = dataset.meltano_env(env, work, i)
        if with_catalog:
            run_env["TAP_POCKET__CATALOG"] = str(catalog)
        return timed_run(
            [str(MELTANO), "--env-file", str(work / "empty.env"), "run", "tap-pocket",
             "target-duckdb"],
            stderr=work / f"meltano-{i}.log", env=run_env, cwd=REPO,
        )  # fmt: skip

    add("meltano run tap-pocket target-duckdb", median_run(
        repeats, lambda i: meltano_run(i, with_catalog=False)),
        duckdb_count(work / "meltano-0.duckdb", "main.items"))  # fmt: skip
    add("meltano run, catalog extra set (no discovery)", median_run(
        repeats, lambda i: meltano_run(200 + i, with_catalog=True)),
        duckdb_count(work / "meltano-200.duckdb", "main.items"))  # fmt: skip

    def dlt_run(i: int) -> Run:
        database = work / f"dlt-{i}.duckdb"
        return timed_run(
            [str(PYTHON), str(DLT), *dataset.dlt_args, str(database)],
            stderr=work / f"dlt-{i}.log", env=env,
        )  # fmt: skip

    add("dlt pipeline", median_run(repeats, dlt_run),
        duckdb_count(work / "dlt-0.duckdb", "pocket.items"))  # fmt: skip
    return rows


def render(rows: list[Row], info: dict[str, t.Any]) -> str:
    """The Markdown table and the derived figures of docs/performance.md."""
    by = {(r.dataset, r.step): r for r in rows}
    out = [
        (
            f"Run {info['when']} on {info['machine']}; tap-pocket {info['tap_pocket']}, "
            f"Meltano {info['meltano']}, target-duckdb 0.8.0, dlt {info['dlt']}; "
            f"median of {info['repeats']} runs each."
        ),
        "",
        "| Dataset | Step | Seconds | Runs | CPU seconds | Rows in items | Note |",
        "|---|---|---:|---|---:|---:|---|",
    ]
    for r in rows:
        runs = ", ".join(f"{s:.2f}" for s in r.runs)
        count = f"{r.rows:,}" if r.rows is not None else ""
        out.append(
            f"| {r.dataset} | {r.step} | {r.seconds:.2f} | {runs} | {r.cpu:.2f} | {count} "
            f"| {r.note} |"
        )
    # The tap's share, two ways: its sync alone (the "tap", beside Meltano start-up,
    # discovery and the loader), and sync + discovery (Meltano starts the tap twice a run
    # unless it has the catalog cached, which a `pip_url: -e .` project never has).
    for unit, attr in (("seconds", "seconds"), ("CPU seconds", "cpu")):
        out += [
            "",
            (
                f"| Dataset ({unit}) | meltano run | dlt | Meltano ÷ dlt | tap sync | tap "
                "discovery | tap share: sync | tap share: sync + discovery | discovery saved "
                "by a catalog |"
            ),
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for dataset in dict.fromkeys(r.dataset for r in rows):

            def value(step: str, dataset: str = dataset, attr: str = attr) -> float:
                return float(getattr(by[(dataset, step)], attr))

            run = value("meltano run tap-pocket target-duckdb")
            cataloged = value("meltano run, catalog extra set (no discovery)")
            dlt = value("dlt pipeline")
            tap = value("tap alone (--config --catalog > file)")
            discover = value("tap --discover")
            out.append(
                f"| {dataset} | {run:.2f} | {dlt:.2f} | {run / dlt:.2f} | {tap:.2f} | "
                f"{discover:.2f} | {tap / run:.0%} | {(tap + discover) / run:.0%} | "
                f"{run - cataloged:.2f} |"
            )
    step = "meltano run tap-pocket target-duckdb"
    p30 = next((r for r in rows if r.dataset.endswith("page_size 30") and r.step == step), None)
    p5000 = next((r for r in rows if r.dataset.endswith("page_size 5000") and r.step == step), None)
    if p30 and p5000:
        out += [
            "",
            (
                f"page_size 30 ÷ page_size 5000, meltano run: {p30.seconds / p5000.seconds:.2f} "
                f"(wall), {p30.cpu / p5000.cpu:.2f} (CPU)"
            ),
        ]
    return "\n".join(out) + "\n"


def rerender() -> int:
    """Write end_to_end.md again from end_to_end.json (after a change to :func:`render`)."""
    saved = json.loads((RESULTS / "end_to_end.json").read_text())
    rows = [Row(**row) for row in saved["rows"]]
    (RESULTS / "end_to_end.md").write_text(render(rows, saved["info"]))
    return 0


def main(argv: list[str]) -> int:
    """Measure every dataset, print and write the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10k export, 1k items, 1 run")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument(
        "--only", choices=("export", "api"), default=None, help="one source instead of both"
    )
    parser.add_argument(
        "--rerender", action="store_true", help="only rewrite the .md from the last .json"
    )
    args = parser.parse_args(argv)
    if args.rerender:
        return rerender()
    rows_export, items = (10_000, 1_000) if args.quick else (100_000, 10_000)
    repeats = args.repeats or (1 if args.quick else 3)
    for needed in (TAP, TARGET, MELTANO):
        if not needed.exists():
            print(f"missing {needed}: `meltano install` tap-pocket and target-duckdb first")
            return 2
    export, _unique = synthetic_export(rows_export)
    library = make_library(items)
    work = Path(tempfile.mkdtemp(prefix="bench-e2e-"))
    env = scrubbed_env(work)
    results: list[Row] = []
    started = time.time()
    try:
        results += [] if args.only == "api" else measure(
            Dataset(f"export {rows_export // 1000}k", {"export_path": str(export)},
                    ["export", str(export)]),
            work / "export", env, repeats,
        )  # fmt: skip
        for page_size in () if args.only == "export" else (5000, DEFAULT_PAGE_SIZE, 30):
            with BenchEmulator(library.account) as emulator:
                tap_config = {
                    "consumer_key": emulator.consumer_key,
                    "access_token": emulator.access_token,
                    "api_url": emulator.url,
                    "page_size": page_size,
                }
                dlt_args = ["api", emulator.url, emulator.consumer_key, emulator.access_token,
                            str(page_size)]  # fmt: skip
                name = f"API {items // 1000}k, page_size {page_size}"
                name += " (default)" if page_size == DEFAULT_PAGE_SIZE else ""
                results += measure(Dataset(name, tap_config, dlt_args),
                                   work / f"api-{page_size}", env, repeats)  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)
    info = {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)),
        "machine": "{cpu}, {cores} cores, load average {load_average}, commit {commit}".format(
            **machine()
        ),
        "tap_pocket": package_version("tap-pocket"),
        "meltano": package_version("meltano"),
        "dlt": package_version("dlt"),
        "repeats": repeats,
        "quick": args.quick,
    }
    text = render(results, info)
    print(text)
    suffix = ("-quick" if args.quick else "") + (f"-{args.only}" if args.only else "")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"end_to_end{suffix}.md").write_text(text)
    (RESULTS / f"end_to_end{suffix}.json").write_text(
        json.dumps({"info": info, "rows": [asdict(r) for r in results]}, indent=1) + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
