"""What a user's ``uv tool install tap-pocket`` weighs, and how long its first ``--about`` takes.

    scripts/uv run python bench/install_size.py                  # the default install
    scripts/uv run python bench/install_size.py --extras parquet,faker
    scripts/uv run python bench/install_size.py --spec tap-github  # any requirement instead

It builds this checkout's wheel (``uv build --wheel``), installs it with ``uv tool install``
into a fresh temporary tool directory (``UV_TOOL_DIR`` / ``UV_TOOL_BIN_DIR``, so nothing of
the user's own tools is touched or reused), then prints:

- the size of the tool's environment on disk (as ``du -sh`` counts it);
- the largest installed distributions (their RECORD files' sizes, so a dependency that
  grows is named);
- the wall and CPU time (user + system, steadier on a busy machine) of the first
  ``tap-pocket --about --format=json`` (cold: uv installs without byte-compiling, so this
  run also writes the ``.pyc`` files, as a user's first run does) and of a second one
  (warm), each the median of ``--repeats`` fresh installs.

Packages come from uv's cache when it has them (the download is not what is measured).
Timings depend on the machine's load: the script prints the load average beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def uv() -> str:
    """The uv on PATH, or the checkout's own (scripts/uv installs it into .tools/uv)."""
    found = shutil.which("uv") or str(ROOT / ".tools" / "uv" / "bin" / "uv")
    if not Path(found).exists():
        sys.exit("install_size: uv not found (run scripts/uv --version once)")
    return found


def build_wheel(out: Path) -> Path:
    """This checkout's wheel, built into ``out``."""
    subprocess.run(
        [uv(), "build", "--wheel", "-q", "-o", str(out), str(ROOT)],
        check=True,
    )
    (wheel,) = out.glob("tap_pocket-*.whl")
    return wheel


def disk_usage(path: Path) -> int:
    """Bytes ``path`` takes on disk, counted as ``du`` counts them (allocated blocks)."""
    return sum(
        (folder_path / name).lstat().st_blocks * 512
        for folder, _, files in os.walk(path)
        for folder_path in [Path(folder)]
        for name in files
    )


def distribution_sizes(environment: Path) -> list[tuple[int, str]]:
    """(bytes, name) of each distribution in the environment, from its RECORD, largest first."""
    python = next((environment / "bin").glob("python3*"), environment / "bin" / "python")
    script = (
        "import importlib.metadata as m, json\n"
        "rows = []\n"
        "for d in m.distributions():\n"
        "    size = 0\n"
        "    for f in d.files or []:\n"
        "        p = f.locate()\n"
        "        size += p.stat().st_size if p.is_file() else 0\n"
        "    rows.append((size, d.metadata['Name']))\n"
        "print(json.dumps(sorted(rows, reverse=True)))\n"
    )
    output = subprocess.run([str(python), "-c", script], capture_output=True, text=True, check=True)
    return [(int(size), str(name)) for size, name in json.loads(output.stdout)]


@dataclass(frozen=True)
class Timing:
    """One run: wall seconds, and CPU seconds (user + system, steadier on a busy machine)."""

    wall: float
    cpu: float


def timed(command: list[str], env: dict[str, str]) -> Timing:
    """How long one run of ``command`` takes; it must succeed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True)
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Timing(wall, cpu)


@dataclass(frozen=True)
class Install:
    """One fresh tool install: its size and its first two ``--about`` runs."""

    environment: Path
    size: int
    cold: Timing
    warm: Timing


def measure(requirement: str, executable: str, work: Path) -> Install:
    """Install ``requirement`` as a uv tool under ``work`` and measure it."""
    # As on a user's machine: the first run writes the .pyc files the second one reads.
    ignored = ("TAP_", "UV_TOOL_", "VIRTUAL_ENV", "PYTHONDONTWRITEBYTECODE")
    env = {k: v for k, v in os.environ.items() if not k.startswith(ignored)}
    env["UV_TOOL_DIR"] = str(work / "tools")
    env["UV_TOOL_BIN_DIR"] = str(work / "bin")
    subprocess.run(
        [uv(), "tool", "install", "-q", "--no-config", "--python", sys.executable, requirement],
        env=env,
        check=True,
    )
    (environment,) = (p for p in (work / "tools").iterdir() if p.is_dir())
    size = disk_usage(environment)
    command = [str(work / "bin" / executable), "--about", "--format=json"]
    cold = timed(command, env)
    warm = timed(command, env)
    return Install(environment, size, cold, warm)


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--extras", default="", help="comma-separated extras, e.g. parquet,faker")
    parser.add_argument("--spec", help="a requirement to install instead of this checkout's wheel")
    parser.add_argument(
        "--executable", default=None, help="the command to time (default: the spec's name)"
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="fresh installs to take the median of"
    )
    parser.add_argument("--top", type=int, default=12, help="largest distributions to list")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="install-size-") as scratch:
        scratch_path = Path(scratch)
        if args.spec:
            requirement = args.spec
            executable = args.executable or args.spec.split("[")[0].split("=")[0].split("~")[0]
        else:
            wheel = build_wheel(scratch_path / "dist")
            requirement = (
                f"tap-pocket[{args.extras}] @ {wheel.as_uri()}" if args.extras else str(wheel)
            )
            executable = args.executable or "tap-pocket"
        runs = [
            measure(requirement, executable, scratch_path / f"run{index}")
            for index in range(args.repeats)
        ]
        sizes = distribution_sizes(runs[-1].environment)
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"requirement: {requirement}")
        last = runs[-1]
        print(f"install size: {last.size / 2**20:.0f} MiB (the tool environment, as du counts it)")
        for label, pick in (("first --about (cold)", "cold"), ("second --about (warm)", "warm")):
            wall = statistics.median(getattr(r, pick).wall for r in runs)
            cpu = statistics.median(getattr(r, pick).cpu for r in runs)
            print(f"{label}: {wall:.2f} s wall, {cpu:.2f} s CPU")
        print(f"(median of {len(runs)} fresh installs; load average {load})")
        print(f"largest distributions ({len(sizes)} installed):")
        for size, name in sizes[: args.top]:
            print(f"  {size / 1e6:8.1f} MB  {name}")


if __name__ == "__main__":
    main()
