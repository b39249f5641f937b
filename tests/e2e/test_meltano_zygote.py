"""A ``meltano`` command forked by the tests' server does what the ``meltano`` script does.

The other end-to-end tests run their commands through tests/zygote.py. Here
the same commands run both ways, as forks and as the installed script, in two copies of
one project: each must end with the same exit status, print the same lines (timestamps
aside) and leave the same files. A timeout ends the command and what it started.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import typing as t

import pytest

from tests.support import ends_within

from .conftest import REPO, clean_env

if t.TYPE_CHECKING:
    from pathlib import Path

    from .conftest import Meltano

pytestmark = pytest.mark.e2e

#: Commands that succeed, that write meltano.yml or .env, that fail on a bad value, and
#: that fail at Meltano's own start (no such command).
COMMANDS = (
    ("config", "print", "tap-pocket"),
    ("config", "set", "tap-pocket", "page_size", "250"),
    ("config", "set", "tap-pocket", "access_token", "at-zygote-0123"),
    ("config", "set", "tap-pocket", "state", "not-a-state"),
    ("config", "test", "tap-pocket"),
    ("state", "get", "no-such-state-id"),
    ("no-such-command",),
)

#: What differs between two runs of one command: times, durations, process ids.
_VOLATILE = re.compile(r'\d{4}-\d\d-\d\dT[\d:.]+(Z|[+-]\d\d:\d\d)?|\d+\.\d+|\\?"pid\\?": ?\d+')


def comparable(output: str) -> list[str]:
    """The lines of ``output`` without what differs between runs, nor the project's folder."""
    lines = []
    for line in output.splitlines():
        text = _VOLATILE.sub("<volatile>", line)
        lines.append(re.sub(r"/\S*/(fork|script)/", "<project>/", text))
    return lines


def project_files(root: Path) -> dict[str, str]:
    return {
        name: (root / name).read_text(encoding="utf-8")
        for name in ("meltano.yml", ".env")
        if (root / name).exists()
    }


def test_a_forked_command_ends_as_the_script_does(meltano: Meltano, tmp_path: Path) -> None:
    roots = {}
    for way in ("fork", "script"):
        root = tmp_path / way
        root.mkdir()
        shutil.copy(REPO / "meltano.yml", root / "meltano.yml")
        (root / ".env").touch()
        roots[way] = root
    statuses = set()
    meltano.env_file = roots["fork"] / ".env"  # where `config set` keeps a secret
    for args in COMMANDS:
        forked = meltano("--cwd", str(roots["fork"]), *args)
        script = subprocess.run(
            [
                str(meltano.executable),
                "--env-file",
                str(roots["script"] / ".env"),
                "--log-format",
                "json",
                "--cwd",
                str(roots["script"]),
                *args,
            ],
            cwd=REPO,
            env=clean_env(**meltano.env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=120,
            check=False,
        )
        assert forked.returncode == script.returncode, (args, forked.tail(), script.stdout)
        assert comparable(forked.output) == comparable(script.stdout), args
        assert project_files(roots["fork"]) == project_files(roots["script"]), args
        statuses.add(forked.returncode)
    assert 0 in statuses
    assert statuses - {0}, "no command failed: exit statuses are not compared"
    assert "at-zygote-0123" in project_files(roots["fork"])[".env"]


def test_a_command_past_its_timeout_is_ended_with_what_it_started(
    meltano: Meltano, tmp_path: Path
) -> None:
    # A utility that sleeps: `meltano invoke` starts it as a child process.
    marker = tmp_path / "sleeper.pid"
    root = tmp_path / "project"
    root.mkdir()
    document = {
        "version": 1,
        "default_environment": "dev",
        "environments": [{"name": "dev"}],
        "plugins": {
            "utilities": [
                {
                    "name": "sleeper",
                    "namespace": "sleeper",
                    "executable": "/bin/sh",
                }
            ]
        },
    }
    (root / "meltano.yml").write_text(json.dumps(document), encoding="utf-8")
    script = f"echo $$ > {marker}; exec sleep 600"
    with pytest.raises(pytest.fail.Exception, match="did not finish in 3 s"):
        meltano("--cwd", str(root), "invoke", "sleeper", "-c", script, timeout=3)
    sleeper = int(marker.read_text(encoding="ascii"))
    assert ends_within(sleeper, 10), "the command's child outlived its timeout"
