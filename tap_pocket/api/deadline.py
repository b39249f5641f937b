"""``request_timeout`` as one deadline for a whole request: connecting, headers and body.

requests (through urllib3) applies its timeout to each socket operation: a server that
sends a byte every few seconds is never cut off (a 649-byte page took 11 minutes with a
timeout of 5 s). The API's session here is mounted with :class:`DeadlineAdapter`: its
connections note themselves, as each request starts, to the :class:`Deadline` their
thread runs under, and when the deadline passes it shuts the connection's socket down.
The read waiting on it ends at once, and the request fails as the caller then says: one
error naming ``request_timeout``.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import typing as t

from requests.adapters import HTTPAdapter
from typing_extensions import Self, override
from urllib3 import poolmanager
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

_active = threading.local()


class Deadline:
    """A time limit for the requests made in this thread while it is entered (``with``)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._lock = threading.Lock()
        self._connection: HTTPConnection | None = None
        self._expired = False
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    @property
    def expired(self) -> bool:
        """Whether the time is up (a request under it was, or will be, cut off)."""
        return self._expired

    def __enter__(self) -> Self:
        _active.deadline = self
        self._timer.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._timer.cancel()
        _active.deadline = None

    def watch(self, connection: HTTPConnection) -> None:
        """Cut ``connection`` off when the time is up (at once if it is already)."""
        with self._lock:
            self._connection = connection
            expired = self._expired
        if expired:
            _shut(connection)

    def _expire(self) -> None:
        with self._lock:
            self._expired = True
            connection = self._connection
        if connection is not None:
            _shut(connection)


def _shut(connection: HTTPConnection) -> None:
    """Shut the connection's socket down: what waits on it wakes up to an end of stream.

    Through ``socket.socket.shutdown``, also for a TLS socket: ``SSLSocket.shutdown``
    would drop its TLS state from under the thread reading it.
    """
    sock = connection.sock
    if sock is not None:
        with contextlib.suppress(OSError):  # already closed, or never connected
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _watch(connection: HTTPConnection) -> None:
    deadline: Deadline | None = getattr(_active, "deadline", None)
    if deadline is not None:
        deadline.watch(connection)


class _WatchedHTTPConnection(HTTPConnection):
    @override
    def connect(self) -> None:
        _watch(self)
        super().connect()

    @override
    def request(self, *args: t.Any, **kwargs: t.Any) -> None:
        _watch(self)
        super().request(*args, **kwargs)


class _WatchedHTTPSConnection(_WatchedHTTPConnection, HTTPSConnection):
    """TLS connections, watched the same way (the watching methods come first)."""


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_WATCHED_POOLS = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class DeadlineAdapter(HTTPAdapter):
    """requests' adapter, its connections (direct or through a proxy) under a :class:`Deadline`.

    A SOCKS proxy's connections are its own: they keep the per-operation timeout only.
    """

    @override
    def init_poolmanager(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _WATCHED_POOLS

    @override
    def proxy_manager_for(self, proxy: str, **proxy_kwargs: t.Any) -> t.Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if manager.pool_classes_by_scheme is poolmanager.pool_classes_by_scheme:
            manager.pool_classes_by_scheme = _WATCHED_POOLS
        return manager
