"""Shared fixtures: a Pocket emulator on loopback and helpers to run the tap for real."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile
import typing as t
from collections import defaultdict
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pocket_emulator import FakeClock, PocketEmulator, generate_account
from tap_pocket.tap import TapPocket
from tests.zygote import Zygote

if t.TYPE_CHECKING:
    from pocket_emulator import Account

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures"
CLOCK_START = 1_700_000_000


@dataclass
class SyncOutput:
    """The Singer messages of one tap run, sorted by kind."""

    messages: list[dict[str, t.Any]]
    records: dict[str, list[dict[str, t.Any]]] = field(default_factory=lambda: defaultdict(list))

    def __post_init__(self) -> None:
        for message in self.messages:
            if message["type"] == "RECORD":
                self.records[message["stream"]].append(message["record"])

    @property
    def states(self) -> list[dict[str, t.Any]]:
        return [m["value"] for m in self.messages if m["type"] == "STATE"]

    @property
    def state(self) -> dict[str, t.Any]:
        """The last STATE message: what a runner such as Meltano would keep."""
        return self.states[-1]

    def ids(self, stream: str = "items", key: str = "item_id") -> list[str]:
        return [r[key] for r in self.records[stream]]


def parse_messages(stdout: str) -> SyncOutput:
    return SyncOutput([json.loads(line) for line in stdout.splitlines() if line.strip()])


def run_tap(
    config: dict[str, t.Any],
    state: dict[str, t.Any] | None = None,
    catalog: dict[str, t.Any] | None = None,
) -> SyncOutput:
    """Run a full sync in this process and return what it wrote to stdout."""
    tap = TapPocket(config=config, state=state, catalog=catalog, parse_env_config=False)
    # A text stream with a binary buffer underneath, as sys.stdout is: the msgspec
    # writer writes bytes to sys.stdout.buffer.
    stdout = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    with redirect_stdout(stdout):
        tap.sync_all()
    stdout.flush()
    return parse_messages(stdout.buffer.getvalue().decode("utf-8"))


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> SyncOutput:
        return parse_messages(self.stdout)


#: The ``tap-pocket`` command with the pages' clock set (``run_cli(clock=...)``).
_AT = (
    "import tap_pocket.pages.policy as p; p.clock = lambda: {!r}; "
    "from tap_pocket.tap import cli; cli()"
)

_zygote: Zygote | None = None


def tap_zygote() -> Zygote:
    """This test process's server of ``tap-pocket`` commands (tests/zygote.py)."""
    global _zygote  # noqa: PLW0603 - one per test process, ended with the session
    if _zygote is None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TAP_POCKET_")}
        _zygote = Zygote(sys.executable, ("tap_pocket.tap",), env, ROOT)
    return _zygote


def pytest_sessionfinish(session: pytest.Session) -> None:  # noqa: ARG001 - the hook's
    if _zygote is not None:
        _zygote.close()


def run_cli(
    *args: str,
    config: dict[str, t.Any] | None = None,
    state: dict[str, t.Any] | None = None,
    tmp_path: Path,
    env: dict[str, str] | None = None,
    timeout: float = 120,
    clock: float | None = None,
    umask: int = -1,
    prefix: tuple[str, ...] = (),
) -> CliResult:
    """Run the real ``tap-pocket`` command line in a process of its own.

    ``python -m tap_pocket ARGS``, forked from a process that has imported the tap
    (tests/zygote.py); or run as a program under ``prefix`` (a command the tap runs
    under, such as ``setpriv ...``), or when ``env`` changes how Python starts
    (``PYTHONPATH``...). ``clock``: the unix time the ``pages`` stream's decisions are
    taken at (its cache's policy), instead of now: runs days apart without waiting.
    ``umask`` (-1: inherited) sets up its process.
    """
    argv = list(args)
    if config is not None:
        config_file = tmp_path / "config.json"
        config_file.write_text(json.dumps(config))
        argv += ["--config", str(config_file)]
    if state is not None:
        state_file = tmp_path / "state.json"
        state_file.write_text(json.dumps(state))
        argv += ["--state", str(state_file)]
    run_env = {k: v for k, v in os.environ.items() if not k.startswith("TAP_POCKET_")}
    run_env.update(env or {})
    code = None if clock is None else _AT.format(clock)
    if prefix or not tap_zygote().can_run(run_env):
        entry = ["-m", "tap_pocket"] if code is None else ["-c", code]
        completed = subprocess.run(
            [*prefix, sys.executable, *entry, *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=run_env,
            cwd=tmp_path,
            check=False,
            umask=umask,
        )
        return CliResult(completed.returncode, completed.stdout, completed.stderr)
    with tempfile.TemporaryDirectory(prefix="tap-pocket-cli-") as outputs:
        stdout, stderr = Path(outputs, "stdout"), Path(outputs, "stderr")
        returncode = tap_zygote().run(
            argv,
            module="tap_pocket" if code is None else None,
            code=code,
            env=run_env,
            cwd=tmp_path,
            stdout=stdout,
            stderr=stderr,
            timeout=timeout,
            umask=umask,
        )
        return CliResult(
            returncode, stdout.read_text(encoding="utf-8"), stderr.read_text(encoding="utf-8")
        )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=CLOCK_START)


@pytest.fixture
def account(clock: FakeClock) -> Account:
    return generate_account(120, seed=7, clock=clock)


@pytest.fixture
def emulator(account: Account) -> t.Iterator[PocketEmulator]:
    with PocketEmulator(account) as emu:
        yield emu


@pytest.fixture
def api_config(emulator: PocketEmulator) -> dict[str, t.Any]:
    return config_for(emulator)


def config_for(emulator: PocketEmulator, **settings: t.Any) -> dict[str, t.Any]:
    """The tap's settings for a sync against ``emulator`` (pages of 30 unless changed)."""
    return {
        "consumer_key": emulator.consumer_key,
        "access_token": emulator.access_token,
        "api_url": emulator.url,
        "page_size": 30,
        "backoff_factor": 0.01,
        **settings,
    }
