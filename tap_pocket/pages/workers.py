"""Extraction in worker processes, each page within a time and a memory limit.

:class:`ExtractionPool` keeps ``size`` worker processes. :meth:`ExtractionPool.extract`
hands a page to an idle worker and awaits its columns. A worker first sends what the
cheap metadata pass found (title, authors...), then the full result. A page that passes
the time limit, or makes its worker pass the memory limit (or die), ends with
``extraction_limit`` and the metadata that came; that worker alone is killed and started
again, the others go on. A page the extractor fails on ends with ``extraction_failed``.

The memory limit is on the worker's resident memory above what it holds at rest, read
every :data:`MEMORY_CHECK` seconds from ``/proc`` while it works (Linux; elsewhere only
the time limit applies). The tap kills a worker past it, rather than capping its address
space: libxml2 out of memory silently returns a cut tree, which would be a silent loss.

A worker that cannot load the extractor (a missing or broken dependency) says which one;
:meth:`ExtractionPool.start` raises :class:`ExtractorUnavailableError` with that line, so
a run stops at its start rather than writing empty rows.

Workers are started with ``spawn`` (the tap has threads; forking it would copy their
locks) and end by themselves when the tap is gone (killed, it cannot tell them).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import multiprocessing
import os
import threading
import time
import typing as t

if t.TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess

    from tap_pocket.pages.extract import Job

#: Seconds a new worker may take to load the extractor before the run gives up on it.
START_TIMEOUT = 120.0
#: Seconds between two looks at a busy worker's memory.
MEMORY_CHECK = 0.05


class ExtractorUnavailableError(RuntimeError):
    """The extractor cannot load: one line naming the package."""


class _Worker:
    """One worker process and the parent's end of its pipe."""

    def __init__(self, memory_limit: int) -> None:
        self._memory_limit = memory_limit
        self._process: BaseProcess | None = None
        self._conn: Connection | None = None
        #: Resident bytes past which the worker is killed (None: no limit known).
        self._ceiling: int | None = None

    @property
    def started(self) -> bool:
        """Whether the process runs."""
        return self._conn is not None

    def start(self) -> None:
        """Start the process and wait until it has loaded the extractor."""
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        process = context.Process(
            target=serve,
            args=(child, os.getpid()),
            name="tap-pocket-extract",
            daemon=True,
        )
        process.start()
        child.close()
        self._process, self._conn = process, parent
        self._ceiling = None
        if not parent.poll(START_TIMEOUT):
            self.stop()
            raise ExtractorUnavailableError("pages: the extraction worker did not start")
        try:
            message = parent.recv()
        except EOFError:
            message = ("broken", "the extraction worker ended at its start")
        if message[0] != "ready":
            self.stop()
            raise ExtractorUnavailableError(f"pages: {message[1]}")
        at_rest = _resident(process.pid) if process.pid is not None else None
        if at_rest is not None and self._memory_limit > 0:
            self._ceiling = at_rest + self._memory_limit

    def run(self, job: Job, time_limit: float) -> dict[str, t.Any]:
        """``job``'s columns with its ``error``; past a limit, the worker is stopped."""
        if self._conn is None:
            self.start()
        assert self._conn is not None  # noqa: S101 - started
        metadata: dict[str, t.Any] = {}
        message: tuple[t.Any, ...]
        self._conn.send(job)
        deadline = time.monotonic() + time_limit
        while True:
            try:
                left = deadline - time.monotonic()
                if not self._conn.poll(max(0.0, min(left, MEMORY_CHECK))):
                    if left > MEMORY_CHECK and not self._over_memory():
                        continue
                    message = ("limit", {})  # past its time or its memory
                else:
                    message = self._conn.recv()
            except (EOFError, OSError):  # it died
                message = ("limit", {})
            kind = message[0]
            if kind == "metadata":
                metadata = dict(message[1])
                continue
            if kind == "done":
                return dict(message[1])
            if kind == "failed":
                return {"error": "extraction_failed"}
            self.stop()  # past the time limit, out of memory, or dead
            return {**metadata, "error": "extraction_limit"}

    def _over_memory(self) -> bool:
        if self._ceiling is None or self._process is None or self._process.pid is None:
            return False
        resident = _resident(self._process.pid)
        return resident is not None and resident > self._ceiling

    def stop(self) -> None:
        """Kill the process (a worker mid-page has nothing worth waiting for)."""
        process, conn = self._process, self._conn
        self._process = self._conn = None
        if conn is not None:
            conn.close()
        if process is not None:
            process.kill()
            process.join(timeout=10)


class ExtractionPool:
    """``size`` extraction workers with a time limit per page and a memory limit each."""

    def __init__(self, size: int, time_limit: float, memory_limit: int) -> None:
        self.size = max(1, size)
        self.time_limit = time_limit
        self.memory_limit = memory_limit
        #: Started as pages come (a run with few pages needs few workers), up to ``size``.
        self._workers: list[_Worker] = [_Worker(memory_limit)]
        # One thread per worker waits on its pipe; the event loop never blocks.
        self._threads = concurrent.futures.ThreadPoolExecutor(
            self.size, thread_name_prefix="tap-pocket-extract"
        )
        self._idle: asyncio.Queue[_Worker] | None = None

    def start(self) -> None:
        """Start the first worker.

        Raises :class:`ExtractorUnavailableError` if it cannot load the extractor.
        """
        if not self._workers[0].started:
            self._workers[0].start()

    async def extract(self, job: Job) -> dict[str, t.Any]:
        """The page's columns and ``error`` (None, a classifier's code or an extraction one)."""
        if self._idle is None:
            self._idle = asyncio.Queue()
            for worker in self._workers:
                self._idle.put_nowait(worker)
        if self._idle.empty() and len(self._workers) < self.size:
            worker = _Worker(self.memory_limit)  # started in its thread, by run()
            self._workers.append(worker)
        else:
            worker = await self._idle.get()
        try:
            loop = asyncio.get_running_loop()
            columns = await loop.run_in_executor(self._threads, worker.run, job, self.time_limit)
        finally:
            # A replaced worker starts again on its next page, in its own thread.
            self._idle.put_nowait(worker)
        return columns

    def close(self) -> None:
        """Stop every worker."""
        self._threads.shutdown(wait=True, cancel_futures=True)
        for worker in self._workers:
            worker.stop()


# -- in the worker process ------------------------------------------------------------------


def serve(conn: Connection, parent: int) -> None:
    """A worker's life: load the extractor, then extract each page sent until the pipe ends."""
    _exit_with_parent(parent)
    try:
        from tap_pocket.pages import extract
    except Exception as exc:  # noqa: BLE001 - said in one line to the tap
        conn.send(("broken", f"the extractor cannot load: {_describe(exc)}"))
        return
    broken = extract.check_dependencies()
    if broken:
        conn.send(("broken", broken))
        return
    # What the extractor loads on its first page (date parsers, the language model) is
    # loaded now: the first page's time limit is its own, and the memory limit counts
    # from a worker at rest.
    extract.extract(extract.WARM_UP)
    conn.send(("ready",))
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        try:
            result = extract.extract(job, on_metadata=lambda found: conn.send(("metadata", found)))
        except MemoryError:
            conn.send(("limit",))
            return  # what is left of this process is not worth trusting
        except Exception:  # noqa: BLE001 - the page's row says extraction_failed
            conn.send(("failed",))
            continue
        conn.send(("done", result))


def _resident(pid: int) -> int | None:
    """Resident bytes of process ``pid`` (Linux's /proc; elsewhere None: no memory limit)."""
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as statm:  # noqa: PTH123 - one read
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _describe(exc: BaseException) -> str:
    name = getattr(exc, "name", None)
    return f"{name}: {exc}" if name and name not in str(exc) else str(exc)


def _exit_with_parent(parent: int) -> None:
    """End this worker when the tap is gone (killed, it cannot say so)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, name="tap-pocket-parent-watch", daemon=True).start()
