"""request_timeout's deadline (tap_pocket/api/deadline.py) over TLS, as ``api_url`` is used.

The CLI tests (tests/test_hostile_api.py) drip from the emulator, over plain HTTP on
loopback; a real ``api_url`` is https, whose connections are another class: these check that
they are watched too, with a self-signed certificate for 127.0.0.1 (tests/fixtures/tls).
"""

from __future__ import annotations

import ssl
import time
import typing as t
from pathlib import Path

import pytest
import requests

from tap_pocket.api.deadline import Deadline, DeadlineAdapter

from .support import RawServer

if t.TYPE_CHECKING:
    import socket

TLS = Path(__file__).parent / "fixtures" / "tls"
ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"


class TLSServer:
    """A TLS server on loopback answering :data:`ANSWER`, at once or a byte at a time."""

    def __init__(self, drip: float = 0.0) -> None:
        self.drip = drip
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(TLS / "cert.pem", TLS / "key.pem")
        self.server = RawServer(self._answer)
        self.url = f"https://127.0.0.1:{self.server.port}/v3/get"

    def _answer(self, connection: socket.socket) -> None:
        with self.context.wrap_socket(connection, server_side=True) as tls:
            tls.recv(1 << 16)
            if not self.drip:
                tls.sendall(ANSWER)
                return
            for byte in ANSWER:
                tls.sendall(bytes([byte]))
                time.sleep(self.drip)

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def session() -> t.Iterator[requests.Session]:
    with requests.Session() as session:
        session.mount("https://", DeadlineAdapter())
        yield session


def test_a_tls_answer_in_time_is_read_through_the_watched_connections(
    session: requests.Session,
) -> None:
    server = TLSServer()
    try:
        with Deadline(5) as deadline:
            response = session.get(server.url, verify=str(TLS / "cert.pem"), timeout=5)
    finally:
        server.close()
    assert response.text == "ok"
    assert not deadline.expired


def test_a_tls_server_dripping_its_answer_is_cut_off_at_the_deadline(
    session: requests.Session,
) -> None:
    # 66 bytes, one every 0.5 s: 33 s in all, though no single read waits past 0.5 s.
    server = TLSServer(drip=0.5)
    began = time.monotonic()
    try:
        with (
            pytest.raises(requests.exceptions.ConnectionError),
            Deadline(1) as deadline,
        ):
            session.get(server.url, verify=str(TLS / "cert.pem"), timeout=5).raise_for_status()
    finally:
        server.close()
    assert deadline.expired
    # Generous: cut off at 1 s, where the whole answer would take 33 s.
    assert time.monotonic() - began < 20
