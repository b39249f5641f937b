"""Run a command and write its wall time, CPU time and peak RSS, as JSON, to a file.

    python -I -S bench/measure.py RESULT.json COMMAND [ARG...]

The harness measures through this small launcher instead of waiting for its children
itself: ``ru_maxrss`` of a child also counts the memory of the process it was forked from
(the kernel keeps the high-water mark across ``exec``), and the harness holds the
emulator and the generated data. Forked from this launcher, the floor is a few MB.
Peak RSS covers the command and every descendant it waited for: the largest single
process, not a sum. The exit code is the command's.
"""

import json
import os
import sys
import time


def main() -> int:
    """Run the command of ``sys.argv``, write the result file, exit with its status."""
    result_path, command = sys.argv[1], sys.argv[2:]
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # the child: become the command
        try:
            os.execvp(command[0], command)  # noqa: S606 - a list of arguments, no shell
        finally:
            os._exit(127)
    _pid, status, usage = os.wait4(pid, 0)
    seconds = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    # Not Path.open: pathlib is not imported, to keep this launcher's own RSS small.
    with open(result_path, "w") as result:  # noqa: PTH123
        # CPU seconds (user + system) of the command and every descendant it waited for:
        # on a busy machine, steadier than wall time.
        cpu = usage.ru_utime + usage.ru_stime
        json.dump(
            {"seconds": seconds, "cpu_seconds": cpu, "peak_rss_kb": usage.ru_maxrss,
             "returncode": code},
            result,
        )  # fmt: skip
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main())
