"""The archived copy of a dead link: the Internet Archive's availability API.

``GET {wayback_api_url}?url=...&timestamp=YYYYMMDDhhmmss`` answers with the snapshot
closest to the timestamp: ``{"archived_snapshots": {"closest": {"available": true,
"url": ..., "timestamp": ..., "status": "200"}}}``, or no ``closest`` when there is none.

What the service receives is the dead link (:func:`lookup_url`) and when it was saved, and
nothing else: not a URL of another scheme than http(s), nor one with a user name or
password in it, nor (unless the service is itself on an internal host, such as a local
mirror) one on an internal host: a single-label name, a special-use or private domain
(.local, .internal, .lan, .home.arpa, .corp, ...), an IP address that is not public.
Query parameters whose names look secret (token, key, password, secret, auth, session,
sig, code, email, ...) are dropped from the URL sent, and so is the fragment. The answer
is used only when it is an http(s) URL on the archive's own host (:func:`snapshot_url`).
"""

from __future__ import annotations

import ipaddress
import socket
import typing as t
from datetime import datetime
from urllib.parse import unquote_plus, urlsplit

import msgspec

from tap_pocket.pages.safety import is_public

if t.TYPE_CHECKING:
    import httpx


class _Closest(msgspec.Struct):
    available: bool = False
    url: str | None = None


class _Snapshots(msgspec.Struct):
    closest: _Closest | None = None


class _Answer(msgspec.Struct):
    archived_snapshots: _Snapshots | None = None


_DECODE = msgspec.json.Decoder(_Answer).decode

#: Domains whose hosts are not on the public internet (special-use and customary private
#: names): a link on one of them is not sent to a public archive.
INTERNAL_DOMAINS = (
    "alt",
    "arpa",
    "corp",
    "example",
    "home",
    "internal",
    "intranet",
    "invalid",
    "lan",
    "local",
    "localdomain",
    "localhost",
    "onion",
    "private",
    "test",
)
#: A query parameter whose name holds one of these is dropped from the URL looked up.
SECRET_NAME_PARTS = (
    "auth",
    "code",
    "credential",
    "email",
    "jwt",
    "key",
    "nonce",
    "otp",
    "pass",
    "pwd",
    "secret",
    "sess",
    "sid",
    "sig",
    "ticket",
    "token",
)
#: The host the Internet Archive serves its snapshots from.
ARCHIVE_SNAPSHOT_HOST = "web.archive.org"


def is_internal_host(host: str) -> bool:
    """Whether ``host`` (a URL's host) names a machine off the public internet."""
    name = host.strip("[]").rstrip(".").lower()
    if not name:
        return True
    try:
        return not is_public(ipaddress.ip_address(name))
    except ValueError:
        pass
    last = name.rsplit(".", 1)[-1]
    if last.isdigit() or last.startswith("0x"):
        # No top-level domain is numeric: an IPv4 address in a short or odd form
        # (127.1, 0x7f.1, 2130706433), which resolvers accept.
        try:
            return not is_public(ipaddress.IPv4Address(socket.inet_aton(name)))
        except (OSError, ValueError):
            return True
    if "." not in name:
        return True
    return any(name == domain or name.endswith("." + domain) for domain in INTERNAL_DOMAINS)


def _secret_name(parameter: str) -> bool:
    name = unquote_plus(parameter.partition("=")[0]).lower()
    return any(part in name for part in SECRET_NAME_PARTS)


def lookup_url(url: str, api_url: str) -> str | None:
    """``url`` as sent to the availability API at ``api_url``, or None: not to be sent.

    See the module docstring for the rules.
    """
    if not url.isprintable() or any(c.isspace() for c in url):
        return None
    try:
        parts = urlsplit(url)
        host, _port = parts.hostname, parts.port  # a bad port raises ValueError
    except ValueError:
        return None
    if parts.scheme.lower() not in {"http", "https"} or not host or "@" in parts.netloc:
        return None
    if is_internal_host(host) and not is_internal_host(urlsplit(api_url).hostname or ""):
        return None
    kept = [p for p in parts.query.split("&") if p and not _secret_name(p)]
    query = "?" + "&".join(kept) if kept else ""
    return f"{parts.scheme}://{parts.netloc}{parts.path}{query}"


def snapshot_url(answer: str, api_url: str) -> str | None:
    """``answer`` when it is an http(s) URL on the archive's host, else None.

    The archive's host derives from ``api_url``: web.archive.org for archive.org's
    service, else the service's own host and port (a local mirror or test double).
    """
    if not answer.isprintable() or any(c.isspace() for c in answer):
        return None
    try:
        api, snapshot = urlsplit(api_url), urlsplit(answer)
        expected = (api.hostname, api.port)
        found = (snapshot.hostname, snapshot.port)
    except ValueError:
        return None
    if api.hostname == "archive.org" or (api.hostname or "").endswith(".archive.org"):
        expected = (ARCHIVE_SNAPSHOT_HOST, None)
    if snapshot.scheme.lower() not in {"http", "https"} or "@" in snapshot.netloc:
        return None
    return answer if found == expected else None


def wayback_timestamp(time_added: str | None) -> str | None:
    """``2019-11-18T10:00:00+00:00`` as ``20191118100000``; None when unknown or unreadable."""
    if not time_added:
        return None
    try:
        moment = datetime.fromisoformat(time_added.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.strftime("%Y%m%d%H%M%S")


async def closest_snapshot(
    client: httpx.AsyncClient, api_url: str, url: str, time_added: str | None
) -> str | None:
    """The URL of the snapshot of ``url`` closest to ``time_added``, or None.

    Nothing is asked for a URL :func:`lookup_url` keeps to itself. Any failure of the
    lookup (network, status, body) means no archived copy is known.
    """
    sent = lookup_url(url, api_url)
    if sent is None:
        return None
    params = {"url": sent}
    timestamp = wayback_timestamp(time_added)
    if timestamp:
        params["timestamp"] = timestamp
    try:
        response = await client.get(api_url, params=params)
        if response.status_code != 200:  # noqa: PLR2004 - HTTP OK
            return None
        answer = _DECODE(response.content)
    except Exception:  # noqa: BLE001 - no copy known, whatever went wrong
        return None
    snapshots = answer.archived_snapshots
    if snapshots is None or snapshots.closest is None:
        return None
    closest = snapshots.closest
    if not closest.available or not closest.url:
        return None
    return snapshot_url(closest.url, api_url)
