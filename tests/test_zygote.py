"""A ``tap-pocket`` command forked by the tests' server ends as the program does.

Most tests run the tap's command line through tests/zygote.py (``run_cli``). Here the same
commands run both ways, forked and as ``python -m tap_pocket`` (``env`` in front makes
``run_cli`` start a program), each in a folder of its own: each must end with the same
exit status, write the same stdout and stderr (times and process ids aside) and leave the
same files. A timeout ends the command and what it started.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import typing as t

import pytest

from .conftest import ROOT, run_cli, tap_zygote
from .support import ends_within

if t.TYPE_CHECKING:
    from pathlib import Path

#: What differs between two runs of one command: times, durations, process ids, the
#: UUIDs in BATCH file names.
_VOLATILE = re.compile(
    r"\d{4}-\d\d-\d\d[T ][\d:.,]+(Z|[+-]\d\d:?\d\d)?|\d+\.\d+(e-?\d+)?|\\?\"pid\\?\": ?\d+"
    r"|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
)
#: A traceback's frames of what started the tap (the server, or Python's ``-m``: runpy,
#: frozen since Python 3.11).
_LAUNCHER_FRAME = re.compile(
    r'  File "(<frozen runpy>|[^"]*/runpy\.py|[^"]*/tests/zygote\.py)", line'
)

DEMO = ROOT / "demo" / "pocket.zip"


def comparable(text: str, folder: Path) -> list[str]:
    """The lines of ``text`` without what differs between runs, nor the run's folder."""
    lines, in_launcher = [], False
    for line in text.splitlines():
        if line.startswith('  File "'):
            in_launcher = bool(_LAUNCHER_FRAME.match(line))
        elif not line.startswith("    "):
            in_launcher = False
        if not in_launcher:
            lines.append(_VOLATILE.sub("<volatile>", line.replace(str(folder), "<folder>")))
    return lines


def folder_files(folder: Path) -> list[tuple[str, bytes]]:
    """The files a run left (names without their UUIDs), with their bytes."""
    return sorted(
        (_VOLATILE.sub("<volatile>", str(path.relative_to(folder))), path.read_bytes())
        for path in folder.rglob("*")
        if path.is_file() and path.name not in {"config.json", "state.json"}
    )


class Case(t.NamedTuple):
    """A command line: its arguments, config, environment and the exit status it ends with."""

    args: tuple[str, ...]
    config: dict[str, t.Any] | None
    env: dict[str, str]
    exits: int


CASES = {
    "about": Case(("--about", "--format", "json"), None, {}, 0),
    "discover": Case(("--discover",), {"export_path": str(DEMO)}, {}, 0),
    "a sync of the demo export": Case((), {"export_path": str(DEMO)}, {}, 0),
    "a sync into BATCH files": Case(
        (),
        {
            "export_path": str(DEMO),
            "batch_config": {
                "encoding": {"format": "jsonl", "compression": "none"},
                "storage": {"root": "file://batches"},
            },
        },
        {},
        0,
    ),
    "a missing export at DEBUG": Case(
        (), {"export_path": "no-such-export.zip"}, {"TAP_POCKET_LOGLEVEL": "debug"}, 1
    ),
    "a config that is no JSON object": Case(("--config", "[1, 2]"), None, {}, 1),
    "settings from the environment": Case(
        ("--config", "ENV"),
        None,
        {"TAP_POCKET_EXPORT_PATH": str(DEMO), "TAP_POCKET_STATE": "archive"},
        0,
    ),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("clock", [None, 1_700_000_000.0])
def test_a_forked_command_ends_as_the_program_does(
    tmp_path: Path, case: str, clock: float | None
) -> None:
    args, config, env, exits = CASES[case]
    results, files, stdouts = {}, {}, {}
    for way, prefix in (("fork", ()), ("program", ("env",))):
        folder = tmp_path / way
        folder.mkdir()
        (folder / "batches").mkdir()
        if args[:2] == ("--config", "[1, 2]"):
            (folder / "config.json").write_text("[1, 2]", encoding="utf-8")
            run_args: tuple[str, ...] = ("--config", str(folder / "config.json"))
        else:
            run_args = args
        result = run_cli(
            *run_args, config=config, tmp_path=folder, env=env, clock=clock, prefix=prefix
        )
        results[way] = (
            result.returncode,
            comparable(result.stdout, folder),
            comparable(result.stderr, folder),
        )
        files[way] = folder_files(folder)
        stdouts[way] = result.stdout
    assert results["fork"] == results["program"]
    assert results["fork"][0] == exits, results["fork"][2]
    assert files["fork"] == files["program"]
    if "BATCH" in case:
        assert files["fork"], "no BATCH file written: files are not compared"
        assert json.loads(stdouts["fork"].splitlines()[-1])["type"] == "STATE"


def test_the_cases_end_both_ways() -> None:
    # Exit statuses are compared only if some case fails and some succeeds.
    assert {case.exits for case in CASES.values()} == {0, 1}


def test_a_command_past_its_timeout_is_ended_with_what_it_started(tmp_path: Path) -> None:
    marker = tmp_path / "child.pid"
    code = (
        "import subprocess, sys; "
        f"child = subprocess.Popen(['sleep', '600']); open({str(marker)!r}, 'w').write("
        "str(child.pid)); child.wait()"
    )
    stdout, stderr = tmp_path / "out", tmp_path / "err"
    with pytest.raises(subprocess.TimeoutExpired):
        tap_zygote().run(
            [],
            code=code,
            env=dict(os.environ),
            cwd=tmp_path,
            stdout=stdout,
            stderr=stderr,
            timeout=3,
        )
    child = int(marker.read_text(encoding="ascii"))
    assert ends_within(child, 10), "the command's child outlived its timeout"


def test_the_server_needs_a_single_thread() -> None:
    # os.fork copies only the calling thread: a server with threads could fork a child
    # holding a lock no thread will release. Its imports must start none.
    check = "import threading, tap_pocket.tap; import sys; sys.exit(threading.active_count())"
    ran = subprocess.run([sys.executable, "-c", check], check=False, cwd=ROOT)
    assert ran.returncode == 1
