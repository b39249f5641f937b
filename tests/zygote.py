"""Python commands forked from a server process that has already imported what they run.

The suite runs the ``tap-pocket`` command line hundreds of times and ``meltano`` over a
hundred times, and each start of either imports its packages anew (a third of a second
for the tap, over a second for Meltano): that import, not the test's work, was most of
the time of many tests. A :class:`Zygote` is a server process, started once per test
process, that imports those packages once. Each command is then a process forked from
it, which takes its own arguments, environment, working folder, umask and output files,
and runs as the interpreter would have: ``python -m MODULE`` through :mod:`runpy` (which
sets ``sys.argv[0]`` and ``__main__`` as Python does), ``python -c CODE`` in a fresh
``__main__`` module. It ends as a program does: its exit status is its ``SystemExit``'s,
and the interpreter shuts down normally (``atexit`` included).

What a fork cannot show, that the installed scripts start, the tests that run them as
programs show (the packaging tests, README's commands, README's Meltano session).
tests/test_zygote.py and tests/e2e/test_meltano_zygote.py show that a forked command ends
as the program does (exit status, output, files).

The protocol, one JSON object a line: the server says ``{"ready": true}``; then for each
request it answers ``{"pid": N}`` when the command starts and ``{"status": N}`` when it
ends (a negative N: ended by that signal).
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
import typing as t

if t.TYPE_CHECKING:
    from pathlib import Path


class ZygoteError(RuntimeError):
    """The server process ended or broke its protocol."""


class Zygote:
    """A server process with ``preload`` imported, which forks one process per command."""

    def __init__(
        self, python: str, preload: t.Sequence[str], env: dict[str, str], cwd: Path
    ) -> None:
        self._server = subprocess.Popen(
            [python, __file__, *preload],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            cwd=cwd,
        )
        self._startup = startup_settings(env)
        self._busy = threading.Lock()  # one command at a time: the answers are in order
        self._buffer = b""
        answer = self._answer(timeout=120)
        if answer != {"ready": True}:
            msg = f"the command server did not start: {answer}"
            raise ZygoteError(msg)

    def can_run(self, env: dict[str, str]) -> bool:
        """Whether a command with ``env`` can be forked: Python starts as it would under it.

        What Python reads at its start (``PYTHONPATH``, ``PYTHONWARNINGS``...) a fork
        cannot change: such a command must run as a program.
        """
        return startup_settings(env) == self._startup

    def run(
        self,
        argv: list[str],
        *,
        env: dict[str, str],
        cwd: Path,
        stdout: Path,
        stderr: Path,
        timeout: float,
        module: str | None = None,
        code: str | None = None,
        script: Path | None = None,
        umask: int = -1,
    ) -> int:
        """Run ``python -m MODULE``, ``python -c CODE`` or ``SCRIPT`` with ``argv``.

        ``argv`` is ``sys.argv`` after the first item (which Python sets: the module's
        path, ``-c`` or the script's path). Its output goes to ``stdout`` and ``stderr``
        (one file may be both); its input is empty; ``umask`` is its umask (-1: this
        process's). Returns its exit status. Past ``timeout`` seconds the command and
        every process it started are killed, and :class:`subprocess.TimeoutExpired` is
        raised.
        """
        if [module, code, script].count(None) != 2:
            msg = "give one of module, code and script"
            raise ValueError(msg)
        if not self.can_run(env):
            msg = f"Python would start otherwise under {startup_settings(env)}: run a program"
            raise ValueError(msg)
        stdout.touch()
        stderr.touch()
        request = {
            "argv": argv,
            "module": module,
            "code": code,
            "script": None if script is None else str(script),
            "env": env,
            "cwd": str(cwd),
            "stdout": str(stdout),
            "stderr": str(stderr),
            "umask": umask,
        }
        if not self._busy.acquire(blocking=False):
            msg = "a command is already running: start another server for a second one"
            raise ZygoteError(msg)
        try:
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
                started = str(module or script or "-c")
                raise subprocess.TimeoutExpired([started, *argv], timeout) from None
        finally:
            self._busy.release()

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
                    raise subprocess.TimeoutExpired("the command server", timeout)
                chunk = os.read(fd, 65536)
                if not chunk:
                    msg = f"the command server ended (exit status {self._server.wait()})"
                    raise ZygoteError(msg)
                self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return dict(json.loads(line))


#: Variables Python reads when it starts besides its own ``PYTHON*`` (its locale).
_STARTUP = frozenset({"LANG", "LC_ALL", "LC_CTYPE"})


def startup_settings(env: dict[str, str]) -> dict[str, str]:
    """The variables of ``env`` that Python reads when it starts."""
    return {
        name: value for name, value in env.items() if name.startswith("PYTHON") or name in _STARTUP
    }


# -- in the server process -------------------------------------------------------------------


def serve(preload: list[str]) -> None:
    """Import ``preload``, then fork a process for each request on stdin until it closes."""
    import importlib

    for name in preload:
        importlib.import_module(name)
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
    """In the forked process: become the requested command and run it to its end."""
    import runpy
    import types

    os.setpgid(0, 0)  # its own process group, which a timeout kills whole
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    if request["umask"] >= 0:
        os.umask(request["umask"])
    nothing = os.open(os.devnull, os.O_RDONLY)
    stdout = os.open(request["stdout"], os.O_WRONLY | os.O_APPEND)
    same = request["stderr"] == request["stdout"]  # one file: one offset, as 2>&1 gives
    stderr = stdout if same else os.open(request["stderr"], os.O_WRONLY | os.O_APPEND)
    os.dup2(nothing, 0)
    os.dup2(stdout, 1)
    os.dup2(stderr, 2)
    for fd in {nothing, stdout, stderr}:
        os.close(fd)
    if request["module"] is not None:
        sys.argv = [request["module"], *request["argv"]]  # runpy sets the first item
        runpy.run_module(request["module"], run_name="__main__", alter_sys=True)
    elif request["script"] is not None:
        sys.argv = [request["script"], *request["argv"]]
        runpy.run_path(request["script"], run_name="__main__")
    else:
        sys.argv = ["-c", *request["argv"]]
        main = types.ModuleType("__main__")  # as under -c: no __file__, no __spec__
        sys.modules["__main__"] = main
        if sys.version_info >= (3, 13):  # since 3.13 a traceback quotes -c's source
            import linecache

            source = request["code"]
            lines = source.splitlines(keepends=True)
            linecache.cache["<string>"] = (len(source), None, lines, "<string>")
        exec(compile(request["code"], "<string>", "exec"), main.__dict__)  # noqa: S102
    raise SystemExit(0)


if __name__ == "__main__":
    serve(sys.argv[1:])
