"""Fixtures of the end-to-end tests: the real Meltano CLI, the Pocket emulator, PostgreSQL.

These tests run ``meltano`` commands in this repository (its ``meltano.yml``), each its own
process, forked from one that has imported Meltano (tests/zygote.py).
Meltano's system folder (plugin installs, run files) is a temporary one per test session
(``MELTANO_SYS_DIR_ROOT``), so that the tests never touch, nor race with, a developer's
own ``.meltano/``; installs come from uv's cache after the first time, in seconds. Each
test gets its own Meltano system database (state and run history) and its own outputs
under ``tmp_path``; the settings that point the pipeline at the emulator and at the
temporary outputs are environment variables, the way a user would set them.

Where this machine lacks something (the Meltano CLI, PostgreSQL binaries), a test skips
with the reason; with ``CI=true`` it fails instead, so CI can never pass by skipping.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support import unavailable
from tests.zygote import Zygote

REPO = Path(__file__).resolve().parents[2]
LOADERS = ("target-duckdb", "target-postgres", "target-jsonl", "target-elasticsearch")
#: Seconds for one `meltano run`; a cold plugin install happens before, in its own fixture.
RUN_TIMEOUT = 600
INSTALL_TIMEOUT = 1800
#: What a ``meltano`` command imports: the CLI, its system database, meltano.yml's YAML.
MELTANO_IMPORTS = ("meltano.cli", "alembic", "ruamel.yaml", "sqlalchemy.dialects.sqlite")
#: Variables of the user's shell that would change what the pipeline does.
_SCRUBBED_PREFIXES = ("TAP_POCKET_", "TARGET_", "MELTANO_")


def clean_env(**overrides: str) -> dict[str, str]:
    """This process's environment without the pipeline's settings, plus ``overrides``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED_PREFIXES)}
    # Let Meltano and the plugins cache their bytecode: each `meltano` start imports
    # hundreds of modules, seconds per command when compiled anew every time.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(
        MELTANO_SEND_ANONYMOUS_USAGE_STATS="false",
        # Nothing may come from Meltano Hub: every plugin is defined in meltano.yml. A
        # closed local port makes any attempt fail at once instead of waiting on DNS.
        MELTANO_HUB_URL="http://127.0.0.1:9",
        MELTANO_HUB_API_ROOT="http://127.0.0.1:9/meltano/api/v1",
        NO_COLOR="1",
        PYTHONUNBUFFERED="1",
    )
    env.update(overrides)
    return env


def meltano_executable() -> Path:
    """The ``meltano`` of this interpreter's environment (dependency group ``meltano``)."""
    candidate = Path(sys.executable).with_name("meltano")
    if not candidate.exists():
        unavailable(
            f"the Meltano CLI is not installed next to {sys.executable}: run the tests with "
            "`scripts/uv run --group e2e pytest` (dependency group e2e)"
        )
    return candidate


@dataclass
class MeltanoResult:
    args: list[str]
    returncode: int
    output: str
    seconds: float
    events: list[dict[str, t.Any]] = field(default_factory=list)

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.output.splitlines()[-lines:])

    def record_counts(self) -> dict[str, int]:
        """Records the tap emitted per stream, from its record_count metrics."""
        counts: dict[str, int] = {}
        for event in self.events:
            info = event.get("metric_info") or {}
            if event.get("string_id") == "tap-pocket" and info.get("metric") == "record_count":
                stream = info.get("tags", {}).get("stream")
                counts[stream] = counts.get(stream, 0) + int(info.get("value", 0))
        return counts


class Meltano:
    """``meltano`` in this repository, with a private system database and settings."""

    def __init__(self, executable: Path, workdir: Path, sys_dir: Path, zygote: Zygote) -> None:
        self.executable = executable
        self.zygote = zygote
        self._commands = 0
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        # An empty .env: a developer's own .env in the repository must not leak in.
        self.env_file = workdir / "empty.env"
        self.env_file.touch()
        self.env: dict[str, str] = {
            "MELTANO_DATABASE_URI": f"sqlite:///{workdir / 'meltano.db'}",
            "MELTANO_SYS_DIR_ROOT": str(sys_dir),
        }

    def __call__(self, *args: str, timeout: float = RUN_TIMEOUT, **env: str) -> MeltanoResult:
        command = ["--env-file", str(self.env_file), "--log-format", "json", *args]
        self._commands += 1
        output = self.workdir / f"command-{self._commands}.log"
        started = time.monotonic()
        try:
            returncode = self.zygote.run(
                command,
                script=self.executable,
                env=clean_env(**self.env, **env),
                cwd=REPO,
                stdout=output,
                stderr=output,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            text = output.read_text(encoding="utf-8")
            pytest.fail(f"meltano {' '.join(args)} did not finish in {timeout} s:\n{text}")
        text = output.read_text(encoding="utf-8")
        sys.stderr.write(f"[e2e] meltano {' '.join(args)}: {time.monotonic() - started:.1f} s\n")
        events = []
        for line in text.splitlines():
            if line.startswith("{"):
                with contextlib.suppress(ValueError):
                    events.append(json.loads(line))
        return MeltanoResult(
            args=list(args),
            returncode=returncode,
            output=text,
            seconds=time.monotonic() - started,
            events=events,
        )

    def run(self, *blocks: str, environment: str | None = "mine", **env: str) -> MeltanoResult:
        """``meltano run`` that must succeed; shows the log's tail when it does not."""
        args = ([f"--environment={environment}"] if environment else []) + ["run", *blocks]
        result = self(*args, **env)
        assert result.returncode == 0, (
            f"meltano {' '.join(args)} failed ({result.returncode}):\n{result.tail()}"
        )
        return result

    def state(self, state_id: str, environment: str = "mine") -> dict[str, t.Any]:
        result = self(f"--environment={environment}", "--log-level=error", "state", "get", state_id)
        assert result.returncode == 0, result.tail()
        lines = result.output.splitlines()
        payload = [line for line in lines if line.startswith('{"singer_state"')]
        assert payload, f"no state stored for {state_id}:\n{result.tail()}"
        return json.loads(payload[-1])["singer_state"]


@dataclass(frozen=True)
class Plugins:
    executable: Path
    sys_dir: Path
    zygote: Zygote


@pytest.fixture(scope="session")
def meltano_zygote() -> t.Iterator[Zygote]:
    """This test process's server of ``meltano`` commands (tests/zygote.py)."""
    meltano_executable()  # or the tests skip: no Meltano in this environment
    zygote = Zygote(sys.executable, MELTANO_IMPORTS, clean_env(), REPO)
    yield zygote
    zygote.close()


@pytest.fixture(scope="session")
def meltano_plugins(
    tmp_path_factory: pytest.TempPathFactory, meltano_zygote: Zygote
) -> t.Iterator[Plugins]:
    """Install the tap and every loader once per test run; a system folder per process.

    The plugins are installed once into a folder of the run (under pytest-xdist the worker
    processes share it: the first to take the lock installs, the others wait), and each
    process gets a Meltano system folder of its own whose plugin folders link to them:
    Meltano writes a run's catalog and config under fixed names in the system folder, so
    two runs at once must not share one. From uv's cache the install takes seconds; cold,
    it downloads the plugins from PyPI once.
    """
    import fcntl  # POSIX, as the end-to-end tests are (bash, Meltano's plugin venvs)

    executable, zygote = meltano_executable(), meltano_zygote
    workers = os.environ.get("PYTEST_XDIST_WORKER")
    run_root = tmp_path_factory.getbasetemp()
    run_root = run_root.parent if workers else run_root  # xdist: above the workers' folders
    installed = run_root / "meltano-plugins"
    with (run_root / "meltano-plugins.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (installed / ".installed").exists():
            installed.mkdir(exist_ok=True)
            meltano = Meltano(executable, run_root / "meltano-install", installed, zygote)
            result = meltano("install", "tap-pocket", *LOADERS, timeout=INSTALL_TIMEOUT)
            if result.returncode != 0:
                unavailable(f"`meltano install` failed (needs PyPI):\n{result.tail()}")
            sys.stderr.write(f"\n[e2e] meltano install: {result.seconds:.1f} s\n")
            (installed / ".installed").touch()
    sys_dir = tmp_path_factory.mktemp("meltano-sys")
    for kind in ("extractors", "loaders"):
        (sys_dir / kind).mkdir()
        for plugin in (installed / kind).iterdir():
            (sys_dir / kind / plugin.name).symlink_to(plugin, target_is_directory=True)
    yield Plugins(executable, sys_dir, zygote)
    if not workers:  # else shared by the workers: pytest prunes the run's folder later
        shutil.rmtree(installed, ignore_errors=True)  # ~170 MB of plugin environments


@pytest.fixture
def meltano(meltano_plugins: Plugins, tmp_path: Path) -> Meltano:
    plugins = meltano_plugins
    return Meltano(plugins.executable, tmp_path / "meltano", plugins.sys_dir, plugins.zygote)


# The Pocket emulator ------------------------------------------------------------------

N_ITEMS = 300
PAGE_SIZE = 100
CLOCK_START = 1_700_000_000  # 2023-11-14: the generated library ends before it


@dataclass
class Pocket:
    """An emulated Pocket account served on loopback, with its clock."""

    account: t.Any
    emulator: t.Any
    clock: t.Any

    def tap_env(self) -> dict[str, str]:
        return {
            "TAP_POCKET_API_URL": self.emulator.url,
            "TAP_POCKET_CONSUMER_KEY": self.emulator.consumer_key,
            "TAP_POCKET_ACCESS_TOKEN": self.emulator.access_token,
            "TAP_POCKET_PAGE_SIZE": str(PAGE_SIZE),
        }


@pytest.fixture
def pocket() -> t.Iterator[Pocket]:
    from pocket_emulator import FakeClock, PocketEmulator, generate_account

    clock = FakeClock(start=CLOCK_START)
    account = generate_account(N_ITEMS, seed=7, clock=clock)
    with PocketEmulator(
        account, consumer_key="e2e-consumer-key", access_token="e2e-access-token"
    ) as emulator:
        yield Pocket(account, emulator, clock)


# PostgreSQL ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_server() -> t.Iterator[t.Any]:
    from .postgres import ExternalPostgres, PostgresServer, PostgresUnavailable

    try:
        # CI's service container when E2E_POSTGRES_URL names it, else a throwaway server.
        server = ExternalPostgres.from_environment() or PostgresServer().start()
    except PostgresUnavailable as exc:
        unavailable(str(exc))
    try:
        yield server
    finally:
        server.stop()
