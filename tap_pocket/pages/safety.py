"""Which addresses a link may be fetched from, checked when each connection is opened.

Every TCP connection the page fetcher opens goes through :class:`GuardedBackend`: it
resolves the host itself, refuses the connection when any resolved address is not a
public one (unless private addresses are allowed), and connects to the address it checked,
so a DNS answer cannot change between the check and the connection. Redirects open their
own connections, so each hop is checked again.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import typing as t

import httpcore
from typing_extensions import override

if t.TYPE_CHECKING:
    from collections.abc import Iterable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class PrivateAddressError(Exception):
    """The host resolves to a loopback, private, link-local, multicast or reserved address."""


class DnsError(Exception):
    """The host name does not resolve: ``missing`` when it does not exist (NXDOMAIN).

    Otherwise the resolver failed this time (``EAI_AGAIN``, a server failure, no answer
    in time), and asking again later may well work.
    """

    def __init__(self, host: str, *, missing: bool) -> None:
        super().__init__(host)
        self.missing = missing


#: getaddrinfo's answers that say the name has no address (the others are failures).
_NO_SUCH_NAME = frozenset(
    code
    for code in (getattr(socket, "EAI_NONAME", None), getattr(socket, "EAI_NODATA", None))
    if code is not None
)


#: Not public whatever the Python version's ``is_global`` says (it changed in 3.11-3.13):
#: IANA's special-purpose blocks that are not globally reachable, plus fec0::/10 (IPv6
#: site-local, deprecated but still routed inside some networks).
_NOT_PUBLIC = tuple(
    ipaddress.ip_network(block)
    for block in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "::/8",
        "100::/64",
        "2001::/23",
        "2001:db8::/32",
        "3fff::/20",
        "5f00::/16",
        "fc00::/7",
        "fe80::/10",
        "fec0::/10",
        "ff00::/8",
    )
)
#: NAT64 prefixes (RFC 6052, 8215): the last 32 bits are the IPv4 address reached.
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


def is_public(address: IPAddress) -> bool:
    """Whether ``address`` is a public unicast address.

    Python's ``is_global`` view or stricter: an IPv6 address that carries an IPv4 one
    (IPv4-mapped, 6to4, NAT64) is judged by that IPv4 address.
    """
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and any(address in net for net in _NAT64):
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public(embedded)
        if address.scope_id:
            return False
    if any(address in net for net in _NOT_PUBLIC if net.version == address.version):
        return False
    return address.is_global and not (
        address.is_multicast
        or address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_unspecified
        or (isinstance(address, ipaddress.IPv6Address) and address.is_site_local)
    )


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, resolving and checking each host before connecting."""

    def __init__(self, *, allow_private: bool) -> None:
        self.allow_private = allow_private
        self._inner = httpcore.AnyIOBackend()
        #: host -> checked addresses, for the run (a host is resolved once).
        self._resolved: dict[str, list[str]] = {}

    async def resolve(self, host: str, port: int, timeout: float | None) -> list[str]:
        """The addresses of ``host``, each one checked; raises DnsError or PrivateAddressError."""
        found = self._resolved.get(host)
        if found is None:
            loop = asyncio.get_running_loop()
            try:
                infos = await asyncio.wait_for(
                    loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout
                )
            except UnicodeError as exc:  # not a name that can exist (IDNA refuses it)
                raise DnsError(host, missing=True) from exc
            except socket.gaierror as exc:
                raise DnsError(host, missing=exc.errno in _NO_SUCH_NAME) from exc
            except asyncio.TimeoutError as exc:
                raise DnsError(host, missing=False) from exc
            found = list(dict.fromkeys(str(info[4][0]) for info in infos))
            if not found:
                raise DnsError(host, missing=True)
            self._resolved[host] = found
        if not self.allow_private:
            refused = [a for a in found if not is_public(ipaddress.ip_address(a.split("%")[0]))]
            if refused:
                raise PrivateAddressError(f"{host} resolves to {refused[0]}")
        return found

    @override
    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self.resolve(host, port, timeout)
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:  # noqa: PERF203 - next address
                failure = exc
        assert failure is not None  # noqa: S101 - at least one address was tried
        raise failure

    @override
    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise PrivateAddressError("unix sockets are never fetched")

    @override
    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)
