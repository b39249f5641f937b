"""``meltano`` commands forked from a process that has already imported Meltano.

Importing Meltano takes over a second of CPU, and the end-to-end tests run over a hundred
``meltano`` commands: most of the time of a ``config set`` or a ``state get`` went to
that import. :class:`MeltanoZygote` starts this module as a server process that imports
Meltano once; each command is then a process forked from it, which sets its own
arguments, environment, working folder and output, and calls ``meltano.cli.main``, the
function the ``meltano`` script calls. The command ends as the script would: its exit
status is ``main``'s, and the interpreter shuts down normally (``atexit`` included).

What a fork cannot show, that the installed ``meltano`` script starts, the tests that run
it as a program show: README's Meltano session in a fresh project
(tests/e2e/test_fresh_project.py) and the interrupted run (tests/e2e/test_meltano_cli.py).

The protocol, one JSON object a line: the server says ``{"ready": true}``; then for each
request (``args``, ``env``, ``cwd``, ``output``) it answers ``{"pid": N}`` when the command
starts and ``{"status": N}`` when it ends (a negative N: ended by that signal).
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
import time
import typing as t

if t.TYPE_CHECKING:
    from pathlib import Path

#: What a command imports besides ``meltano.cli`` (its project, system database and YAML):
#: imported once by the server too.
PRELOAD = ("alembic", "ruamel.yaml", "sqlalchemy.dialects.sqlite", "sqlite3")


class ZygoteError(RuntimeError):
    """The server process ended or broke its protocol."""


class MeltanoZygote:
    """A server process with Meltano imported, which forks one process per command."""

    def __init__(self, python: str, env: dict[str, str], cwd: Path) -> None:
        self._server = subprocess.Popen(
            [python, __file__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            cwd=cwd,
        )
        self._buffer = b""
        answer = self._answer(timeout=120)
        if answer != {"ready": True}:
            msg = f"the Meltano server did not start: {answer}"
            raise ZygoteError(msg)

    def run(
        self, args: list[str], *, env: dict[str, str], cwd: Path, output: Path, timeout: float
    ) -> int:
        """Run ``meltano ARGS``, its stdout and stderr into ``output``; its exit status.

        Past ``timeout`` seconds the command and every process it started are killed, and
        :class:`subprocess.TimeoutExpired` is raised.
        """
        output.touch()
        request = {"args": args, "env": env, "cwd": str(cwd), "output": str(output)}
        assert self._server.stdin is not None
        self._server.stdin.write(json.dumps(request).encode() + b"\n")
        self._server.stdin.flush()
        pid = int(self._answer(timeout=60)["pid"])
        try:
            return int(self._answer(timeout=timeout)["status"])
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            self._answer(timeout=60)  # its status, once the server has reaped it
            raise subprocess.TimeoutExpired(["meltano", *args], timeout) from None

    def close(self) -> None:
        """End the server (it ends by itself when its input closes)."""
        if self._server.stdin is not None:
            self._server.stdin.close()
        try:
            self._server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._server.kill()
            self._server.wait()
        if self._server.stdout is not None:
            self._server.stdout.close()

    def _answer(self, timeout: float) -> dict[str, t.Any]:
        """The server's next line, within ``timeout`` seconds."""
        assert self._server.stdout is not None
        fd = self._server.stdout.fileno()
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                left = deadline - time.monotonic()
                if left <= 0 or not selector.select(left):
                    raise subprocess.TimeoutExpired("meltano", timeout)
                chunk = os.read(fd, 65536)
                if not chunk:
                    msg = f"the Meltano server ended (exit status {self._server.wait()})"
                    raise ZygoteError(msg)
                self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return dict(json.loads(line))


# -- in the server process -------------------------------------------------------------------


def serve() -> None:
    """Import Meltano, then fork a process for each request on stdin until it closes."""
    import importlib

    import meltano.cli

    for name in PRELOAD:
        importlib.import_module(name)
    del meltano
    answers = sys.stdout.buffer
    answers.write(b'{"ready": true}\n')
    answers.flush()
    for line in sys.stdin.buffer:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            command(request)  # raises SystemExit: the child leaves the loop and ends
        answers.write(json.dumps({"pid": pid}).encode() + b"\n")
        answers.flush()
        _, status = os.waitpid(pid, 0)
        answers.write(json.dumps({"status": os.waitstatus_to_exitcode(status)}).encode() + b"\n")
        answers.flush()


def command(request: dict[str, t.Any]) -> t.NoReturn:
    """In the forked process: become ``meltano ARGS`` and run it to its end."""
    os.setpgid(0, 0)  # its own process group, which a timeout kills whole
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    output = os.open(request["output"], os.O_WRONLY | os.O_APPEND)
    nothing = os.open(os.devnull, os.O_RDONLY)
    os.dup2(nothing, 0)
    os.dup2(output, 1)
    os.dup2(output, 2)
    os.close(output)
    os.close(nothing)
    sys.argv = [os.path.join(os.path.dirname(sys.executable), "meltano"), *request["args"]]  # noqa: PTH118, PTH120
    from meltano.cli import main

    main()
    raise SystemExit(0)


if __name__ == "__main__":
    serve()
