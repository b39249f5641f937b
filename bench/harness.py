"""Building blocks of bench/run.py.

Timed child processes, the emulator with a request log (and optionally Pocket's
documented 30-per-page cap), PostgreSQL, generated exports and the description of this
machine.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import typing as t
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

from typing_extensions import Self, override

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench"
CACHE = BENCH / ".cache"
sys.path.insert(0, str(REPO))

from pocket_emulator import PocketEmulator, generate_account  # noqa: E402

# Python programs are measured as users run them: with bytecode caches. (This machine's
# environment sets PYTHONDONTWRITEBYTECODE, which makes every start compile anew.)
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

#: Pocket's documented maximum of ``count`` per /v3/get call.
DOCUMENTED_MAX_COUNT = 30
UNLIMITED = 10**9


# ---------------------------------------------------------------- timed child processes


@dataclass
class Run:
    """One finished child process: wall seconds, peak RSS, exit status."""

    args: list[str]
    seconds: float
    peak_rss_mb: float
    returncode: int
    stderr_path: Path | None = None
    #: User + system CPU seconds of the command and the descendants it waited for.
    cpu_seconds: float = 0.0
    #: Lines the command wrote to stdout, when it wrote them into a pipe (:data:`PIPE`).
    stdout_lines: int | None = None

    def stderr_tail(self, lines: int = 15) -> str:
        """The last ``lines`` lines of the process's stderr, if it was kept in a file."""
        if self.stderr_path is None or not self.stderr_path.exists():
            return ""
        text = self.stderr_path.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])


MEASURE = BENCH / "measure.py"
#: ``timed_run(stdout=PIPE)``: stdout goes into a pipe that this process reads as it comes,
#: as a loader reads a tap's output (a pipe blocks a writer that outruns its reader).
PIPE = "pipe"


def timed_run(
    args: t.Sequence[str],
    *,
    stdout: Path | t.Literal["pipe"] | None = None,
    stderr: Path | None = None,
    env: t.Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Run:
    """Run ``args`` to completion through bench/measure.py.

    What it measures: the wall time, and the peak RSS of the largest process of the
    child's tree (not of this harness, see measure.py). stdout goes to a file, to
    /dev/null (None), or into a pipe whose lines are counted (:data:`PIPE`).
    """
    lines = None
    with tempfile.TemporaryDirectory(prefix="bench-measure-") as tmp:
        result_file = Path(tmp) / "result.json"
        command = [sys.executable, "-I", "-S", str(MEASURE), str(result_file), *args]
        options: dict[str, t.Any] = {
            "stdin": subprocess.DEVNULL,
            "env": dict(env) if env is not None else None,
            "cwd": cwd,
        }
        err = (stderr or Path(os.devnull)).open("wb")  # closed by the with below
        with err:
            if stdout == PIPE:
                with subprocess.Popen(
                    command, stdout=subprocess.PIPE, stderr=err, **options
                ) as process:
                    assert process.stdout is not None  # noqa: S101 - stdout=PIPE
                    lines = 0
                    while chunk := process.stdout.read1(1 << 20):
                        lines += chunk.count(b"\n")
            else:
                with (stdout or Path(os.devnull)).open("wb") as out:
                    subprocess.run(command, stdout=out, stderr=err, check=False, **options)
        result = json.loads(result_file.read_text())
    return Run(
        list(args),
        result["seconds"],
        result["peak_rss_kb"] / 1024,
        result["returncode"],
        stderr,
        result["cpu_seconds"],
        lines,
    )


def startup_seconds(
    args: t.Sequence[str], repeats: int = 5, env: t.Mapping[str, str] | None = None
) -> float:
    """Median wall time of a command that only starts the program (``--about``, ``spec``)."""
    return statistics.median(timed_run(args, env=env).seconds for _ in range(repeats))


def singer_record_count(stderr_path: Path, stream: str) -> int | None:
    """Records of ``stream`` the Singer SDK counted in its METRIC log lines (None: none logged)."""
    total, seen = 0, False
    for line in stderr_path.read_text(errors="replace").splitlines():
        _, marker, payload = line.partition("METRIC: ")
        if not marker:
            continue
        try:
            metric = json.loads(payload)
        except ValueError:
            continue
        if (
            metric.get("metric") == "record_count"
            and metric.get("tags", {}).get("stream") == stream
        ):
            total, seen = total + int(metric.get("value", 0)), True
    return total if seen else None


def singer_record_ids(stdout_path: Path, stream: str, key: str) -> list[str]:
    """``key`` of every Singer RECORD of ``stream`` in a tap's output file."""
    ids = []
    with stdout_path.open("rb") as lines:
        for line in lines:
            if b'"RECORD"' not in line:
                continue
            message = json.loads(line)
            if message.get("type") == "RECORD" and message.get("stream") == stream:
                ids.append(str(message["record"][key]))
    return ids


# ---------------------------------------------------------------- the emulator


class BenchEmulator(PocketEmulator):
    """The Pocket emulator in a thread of the harness, logging what /v3/get calls ask.

    It never runs in the measured process. Every /v3/get call's asked ``count`` and
    ``offset`` is logged, and optionally ``count`` is capped: the documented 30, which
    Pocket's classic server enforced by returning fewer entries than asked. The cap is the
    harness's (the emulator itself accepts 1..5000): the request's ``count`` is lowered
    before the emulator sees it.
    """

    def __init__(self, account: t.Any, cap: int | None = None) -> None:
        self.cap = cap
        self.asked: list[tuple[int | None, int | None]] = []
        #: Seconds spent building /v3/get answers (not sending them): the server's share.
        self.server_seconds = 0.0
        super().__init__(account, user_limit=UNLIMITED, key_limit=UNLIMITED)

    @override
    def __enter__(self) -> Self:
        return self

    @override
    def handle(self, method: str, target: str, headers: t.Any, body: bytes) -> t.Any:
        if target.split("?", 1)[0].rstrip("/") != "/v3/get":
            return super().handle(method, target, headers, body)
        target, body = self._log_and_cap(target, headers, body)
        started = time.perf_counter()
        try:
            return super().handle(method, target, headers, body)
        finally:
            self.server_seconds += time.perf_counter() - started

    @property
    def get_requests(self) -> int:
        """How many /v3/get calls the emulator answered."""
        return len(self.asked)

    def _log_and_cap(self, target: str, headers: t.Any, body: bytes) -> tuple[str, bytes]:
        path, _, query = target.partition("?")
        query_params = dict(parse_qsl(query, keep_blank_values=True))
        body_params, is_json = _body_params(headers, body)
        params = {**query_params, **body_params}
        self.asked.append((_int(params.get("count")), _int(params.get("offset"))))
        count = _int(params.get("count"))
        if self.cap is None or count is None or count <= self.cap:
            return target, body
        if "count" in query_params:
            query_params["count"] = str(self.cap)
            target = f"{path}?{urlencode(query_params)}"
        if "count" in body_params:
            body_params["count"] = self.cap
            body = json.dumps(body_params).encode() if is_json else urlencode(body_params).encode()
        return target, body


def _body_params(headers: t.Any, body: bytes) -> tuple[dict[str, t.Any], bool]:
    text = body.decode("utf-8", errors="replace").strip()
    if not text:
        return {}, False
    if "json" in (headers.get("Content-Type") or "").lower() or text.startswith("{"):
        try:
            decoded = json.loads(text)
        except ValueError:
            return {}, True
        return (decoded if isinstance(decoded, dict) else {}), True
    return dict(parse_qsl(text, keep_blank_values=True)), False


def _int(value: t.Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@dataclass
class Library:
    """A generated account and what a complete read of it (state=all) must return."""

    account: t.Any
    item_ids: set[str]
    favorite_ids: set[str] = field(default_factory=set)


def make_library(items: int, seed: int = 0) -> Library:
    """A generated account of ``items`` items, and the ids a complete read returns."""
    account = generate_account(items, seed=seed)
    live = account.live_items()
    ids = {str(entry["item_id"]) for entry in live}
    favorites = {str(entry["item_id"]) for entry in live if str(entry.get("favorite")) == "1"}
    return Library(account, ids, favorites)


# ---------------------------------------------------------------- exports


def _load_module(name: str, path: Path) -> t.Any:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        message = f"cannot load {path}"
        raise ImportError(message)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


EXPORT_GENERATOR = REPO / "tests" / "fixtures" / "export" / "generate.py"


def synthetic_export(rows: int, seed: int = 0) -> tuple[Path, int]:
    """A generated pocket.zip of ``rows`` rows, and how many items the tap must emit.

    The zip is cached in bench/.cache, keyed by the generator's source.
    """
    generator_hash = hashlib.sha256(EXPORT_GENERATOR.read_bytes()).hexdigest()[:12]
    target = CACHE / f"export-{rows}-seed{seed}-{generator_hash}.zip"
    meta = target.with_suffix(".json")
    if target.exists() and meta.exists():
        return target, int(json.loads(meta.read_text())["unique_items"])
    CACHE.mkdir(parents=True, exist_ok=True)
    for stale in CACHE.glob(f"export-{rows}-seed{seed}-*"):  # from an older generator
        stale.unlink()
    module = _load_module("bench_export_generator", EXPORT_GENERATOR)
    written = module.write_synthetic_export(target, rows, seed=seed)
    meta.write_text(json.dumps({"rows": written.rows, "unique_items": written.unique_items}))
    return target, int(written.unique_items)


# ---------------------------------------------------------------- PostgreSQL


def postgres_server() -> t.Any:
    """A started throwaway PostgreSQL (the e2e tests' helper, tests/e2e/postgres.py)."""
    module = _load_module("bench_e2e_postgres", REPO / "tests" / "e2e" / "postgres.py")
    return module.PostgresServer().start()


def postgres_scalar(server: t.Any, database: str, sql: str) -> str:
    """The single value ``sql`` returns from ``database`` of ``server`` (psql -Atc)."""
    result = subprocess.run(
        [
            str(server.bin_dir / "psql"),
            "-h",
            server.host,
            "-p",
            str(server.port),
            "-U",
            server.user,
            "-d",
            database,
            "-v",
            "ON_ERROR_STOP=1",
            "-Atc",
            sql,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return result.stdout.strip()


# ---------------------------------------------------------------- the machine


def machine() -> dict[str, t.Any]:
    """This machine and checkout: CPU, cores, RAM, Python, OS, load and commit."""
    cpu = platform.processor() or platform.machine()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    ram_gb = None
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            ram_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gb": ram_gb,
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "commit": _git("rev-parse", "--short", "HEAD"),
        "uncommitted_changes": bool(_git("status", "--porcelain", "--untracked-files=no")),
    }


def _git(*args: str) -> str:
    git = shutil.which("git")
    if git is None:
        return ""
    try:
        return subprocess.run(
            [git, *args], cwd=REPO, capture_output=True, text=True, timeout=30, check=False
        ).stdout.strip()
    except OSError:
        return ""


def package_version(name: str) -> str:
    """The installed version of the distribution ``name``, or "?"."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "?"
