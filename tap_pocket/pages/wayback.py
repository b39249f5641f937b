"""The archived copy of a dead link: the Internet Archive's availability API.

``GET {wayback_api_url}?url=...&timestamp=YYYYMMDDhhmmss`` answers with the snapshot
closest to the timestamp: ``{"archived_snapshots": {"closest": {"available": true,
"url": ..., "timestamp": ..., "status": "200"}}}``, or no ``closest`` when there is none.
"""

from __future__ import annotations

import typing as t
from datetime import datetime

import msgspec

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

    Any failure of the lookup (network, status, body) means no archived copy is known.
    """
    params = {"url": url}
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
    return closest.url if closest.available and closest.url else None
