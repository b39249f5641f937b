"""The tools a user would pick instead of tap-pocket, run against the tap's emulator.

They come from PyPI, each into its own venv under bench/.venvs/. Their hard-coded
``https://getpocket.com`` is redirected to the emulator by bench/redirect/sitecustomize.py,
which only their processes load (PYTHONPATH); nothing else of theirs is changed: page
size, pagination, parameters and sleeps are as published.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import typing as t
from dataclasses import dataclass
from pathlib import Path

from harness import BENCH, Run, startup_seconds, timed_run

VENVS = BENCH / ".venvs"
REDIRECT = BENCH / "redirect"


class UnavailableError(RuntimeError):
    """The alternative cannot be installed or run here; the message says why."""


@dataclass
class Alternative:
    """A tool to compare with: its PyPI requirement, command and Pythons to try."""

    name: str
    requirement: str
    executable: str
    #: Interpreters to try, best first (None: uv's default).
    pythons: tuple[str | None, ...]
    note: str = ""

    @property
    def venv(self) -> Path:
        """Its virtual environment, bench/.venvs/<name>."""
        return VENVS / self.name

    @property
    def bin(self) -> Path:
        """Its command in the virtual environment."""
        return self.venv / "bin" / self.executable


@dataclass
class Outcome:
    """What one run of an alternative did."""

    run: Run
    item_ids: list[str]
    startup: float
    #: Seconds the tool slept on purpose (pocket-to-sqlite: 2 s after every page).
    slept: float = 0.0


def _python_candidates(*versions: str) -> tuple[str | None, ...]:
    """Local interpreters of ``versions`` (pyenv's folders, then PATH), then the versions.

    uv cannot download interpreters on a machine that reaches only PyPI.
    """
    found: list[str | None] = []
    for version in versions:
        on_path = shutil.which(f"python{version}")
        pyenv = sorted(
            str(p)
            for p in Path("~/.pyenv/versions").expanduser().glob(f"{version}.*/bin/python{version}")
        )
        for candidate in (*pyenv, on_path):
            if candidate and candidate not in found:
                found.append(candidate)
    return (*found, *versions)


POCKET_TO_SQLITE = Alternative(
    name="pocket-to-sqlite",
    requirement="pocket-to-sqlite==0.2.3",
    executable="pocket-to-sqlite",
    pythons=("3.11", None),
)
# airbyte-cdk 0.80.0 (pinned by the connector) fails to import on Python 3.11+
# ("mutable default <class 'JsonDecoder'> for field decoder is not allowed"); Airbyte ran
# it on Python 3.9 (its python-connector-base image), so the venv uses 3.9 (or 3.10).
AIRBYTE_SOURCE_POCKET = Alternative(
    name="airbyte-source-pocket",
    requirement="airbyte-source-pocket==0.1.21",
    executable="source-pocket",
    pythons=_python_candidates("3.9", "3.10"),
)


def ensure_installed(alt: Alternative) -> None:
    """``uv venv`` + ``uv pip install`` into bench/.venvs/<name>, once."""
    marker = alt.venv / ".bench-installed"
    if marker.exists() and marker.read_text() == alt.requirement and alt.bin.exists():
        return
    errors = []
    for python in alt.pythons:
        shutil.rmtree(alt.venv, ignore_errors=True)
        venv = ["uv", "venv", "--quiet", str(alt.venv)] + (["--python", python] if python else [])
        install = [
            "uv",
            "pip",
            "install",
            "--quiet",
            "--python",
            str(alt.venv / "bin" / "python"),
            alt.requirement,
        ]
        failure = _first_failure(venv, install)
        if failure is None and alt.bin.exists():
            probe = subprocess.run(
                [str(alt.bin), "--help"], capture_output=True, text=True, timeout=120, check=False
            )
            if probe.returncode == 0:
                marker.write_text(alt.requirement)
                return
            failure = f"`{alt.executable} --help` failed: {_last_line(probe.stderr)}"
        errors.append(f"python {python or 'default'}: {failure or 'no ' + alt.executable}")
    message = f"{alt.requirement} could not be installed and started: " + "; ".join(errors)
    raise UnavailableError(message)


def _first_failure(*commands: list[str]) -> str | None:
    for command in commands:
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"{' '.join(command[:3])}: {exc}"
        if done.returncode != 0:
            return f"{' '.join(command[:3])}: {_last_line(done.stderr or done.stdout)}"
    return None


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "(no output)"


def redirected_env(emulator_url: str) -> dict[str, str]:
    """This environment plus what sends the tools' Pocket requests to the emulator."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(PYTHONPATH=str(REDIRECT), BENCH_POCKET_URL=emulator_url, PYTHONUNBUFFERED="1")
    return env


def python_version(alt: Alternative) -> str:
    """The Python version of the tool's virtual environment."""
    done = subprocess.run(
        [
            str(alt.venv / "bin" / "python"),
            "-c",
            "import platform; print(platform.python_version())",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip()


# ---------------------------------------------------------------- pocket-to-sqlite


def run_pocket_to_sqlite(emulator: t.Any, workdir: Path) -> Outcome:
    """``pocket-to-sqlite fetch pocket.db --auth auth.json --silent``.

    ``--silent`` skips the progress bar, whose total comes from /v3/stats (undocumented,
    not emulated).
    """
    alt = POCKET_TO_SQLITE
    ensure_installed(alt)
    auth = workdir / "auth.json"
    auth.write_text(
        json.dumps(
            {
                "pocket_consumer_key": emulator.consumer_key,
                "pocket_access_token": emulator.access_token,
                "pocket_username": emulator.username,
            }
        )
    )
    database = workdir / "pocket.db"
    database.unlink(missing_ok=True)
    env = redirected_env(emulator.url)
    startup = startup_seconds([str(alt.bin), "--version"], repeats=3, env=env)
    run = timed_run(
        [str(alt.bin), "fetch", str(database), "--auth", str(auth), "--silent"],
        stderr=workdir / "pocket-to-sqlite.stderr",
        env=env,
        cwd=workdir,
    )
    if run.returncode != 0:
        message = f"pocket-to-sqlite exited {run.returncode}: {run.stderr_tail(3)}"
        raise UnavailableError(message)
    with sqlite3.connect(database) as db:
        ids = [str(row[0]) for row in db.execute("select item_id from items")]
    # FetchItems sleeps 2 s (its default, not settable from the CLI) after every page
    # that had items, i.e. after every request but the last, empty one.
    return Outcome(run, ids, startup, slept=2.0 * max(emulator.get_requests - 1, 0))


# ---------------------------------------------------------------- airbyte-source-pocket


def run_airbyte(emulator: t.Any, workdir: Path) -> Outcome:
    """``source-pocket read`` with state=all and detail_type=complete (the tap's defaults).

    Every other setting is left to the connector's defaults; the catalog is its own
    ``discover`` output with the one stream selected (full_refresh).
    """
    alt = AIRBYTE_SOURCE_POCKET
    ensure_installed(alt)
    config = workdir / "airbyte-config.json"
    config.write_text(
        json.dumps(
            {
                "consumer_key": emulator.consumer_key,
                "access_token": emulator.access_token,
                "state": "all",
                "detail_type": "complete",
            }
        )
    )
    env = redirected_env(emulator.url)
    catalog = _airbyte_catalog(alt, config, workdir, env)
    startup = startup_seconds([str(alt.bin), "spec"], repeats=3, env=env)
    output = workdir / "airbyte.out"
    run = timed_run(
        [str(alt.bin), "read", "--config", str(config), "--catalog", str(catalog)],
        stdout=output,
        stderr=workdir / "airbyte.stderr",
        env=env,
        cwd=workdir,
    )
    ids, error = _airbyte_records(output)
    if run.returncode != 0 or error:
        message = f"source-pocket read exited {run.returncode}: {error or run.stderr_tail(3)}"
        raise UnavailableError(message)
    return Outcome(run, ids, startup)


def _airbyte_catalog(alt: Alternative, config: Path, workdir: Path, env: dict[str, str]) -> Path:
    done = subprocess.run(
        [str(alt.bin), "discover", "--config", str(config)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    streams = []
    for line in done.stdout.splitlines():
        if line.startswith("{") and '"CATALOG"' in line:
            streams = json.loads(line)["catalog"]["streams"]
    if not streams:
        message = f"source-pocket discover gave no catalog: {_last_line(done.stdout + done.stderr)}"
        raise UnavailableError(message)
    catalog = workdir / "airbyte-catalog.json"
    catalog.write_text(
        json.dumps(
            {
                "streams": [
                    {
                        "stream": stream,
                        "sync_mode": "full_refresh",
                        "destination_sync_mode": "overwrite",
                    }
                    for stream in streams
                ]
            }
        )
    )
    return catalog


def _airbyte_records(output: Path) -> tuple[list[str], str]:
    ids, error = [], ""
    with output.open("rb") as lines:
        for line in lines:
            if not line.startswith(b"{"):
                continue
            message = json.loads(line)
            if message.get("type") == "RECORD":
                ids.append(str(message["record"]["data"].get("item_id")))
            elif message.get("type") == "TRACE" and message["trace"].get("type") == "ERROR":
                error = message["trace"]["error"].get("message", "error")
    return ids, error
