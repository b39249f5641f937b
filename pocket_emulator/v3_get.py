r"""``/v3/get``: its parameters, validated the way Pocket's 2024-25 server did, and its body.

Rejected values get HTTP 400, ``X-Error-Code: 130`` and a JSON body naming the parameter,
shaped like the express-validator message of Pocket's v3 proxy:
``{"error": "Invalid value: {\"location\":\"body\",\"path\":\"count\",...}"}``.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

from pocket_emulator.account import LIVE_STATUSES, Account, ItemQuery
from pocket_emulator.entries import encode
from pocket_emulator.profiles import ARTICLE, IMAGE, VIDEO
from pocket_emulator.replies import Reply, json_error_reply

BAD_REQUEST_CODE = "130"
# The proxy's own X-Error text for code 130 (errorHandlers.ts: BAD_USER_INPUT).
BAD_REQUEST_ERROR = "Bad request"
MAX_COUNT = 5000
DEFAULT_COUNT = 30

_STATES = {
    "unread": frozenset({0}),
    "queue": frozenset({0}),
    "archive": frozenset({1}),
    "read": frozenset({1}),
    "all": LIVE_STATUSES,
}
_CONTENT_TYPES = {"article": ARTICLE, "video": VIDEO, "image": IMAGE}
# The proxy accepted these sorts but served them as "newest" (relevance needs a search
# engine the emulator does not have); "title" and "site" were rejected.
_NEWEST_ALIASES = frozenset({"newest", "relevance", "shortest", "longest"})


class ParameterError(ValueError):
    """A parameter value Pocket would have rejected."""

    def __init__(self, name: str, value: t.Any, location: str) -> None:
        self.name = name
        detail = {"location": location, "path": name, "type": "field", "value": value}
        super().__init__(f"Invalid value: {encode(detail)}")


@dataclass(frozen=True)
class GetRequest:
    """A validated ``/v3/get`` call."""

    query: ItemQuery
    newest_first: bool = True
    offset: int = 0
    count: int = DEFAULT_COUNT
    complete: bool = False
    total: bool = False
    annotations: bool = False


def parse_get_request(params: t.Mapping[str, t.Any], locations: t.Mapping[str, str]) -> GetRequest:
    """Validate the parameters of one call; raises :class:`ParameterError`."""
    reader = _Reader(params, locations)
    search = reader.text("search", allow_empty=True) or None
    query = ItemQuery(
        statuses=_STATES[reader.choice("state", _STATES, default="all")],
        since=reader.integer("since", minimum=0) or None,  # 0 meant "no since" to Pocket too
        favorite=reader.flag("favorite"),
        tag=reader.text("tag"),
        content=_CONTENT_TYPES.get(reader.choice("contentType", _CONTENT_TYPES, default="") or ""),
        search=search.lower() if search else None,
        # Pocket only honoured domain inside a search; elsewhere it was ignored.
        domain=(reader.text("domain", allow_empty=True) or None) if search else None,
    )
    sort = reader.choice("sort", (*_NEWEST_ALIASES, "oldest"), default="newest")
    detail = reader.choice("detailType", ("simple", "complete"), default="simple")
    return GetRequest(
        query=query,
        newest_first=sort in _NEWEST_ALIASES,
        offset=reader.integer("offset", minimum=0) or 0,
        count=reader.integer("count", minimum=1, maximum=MAX_COUNT) or DEFAULT_COUNT,
        complete=detail == "complete",
        total=bool(reader.flag("total")),
        annotations=bool(reader.flag("annotations")),
    )


def bad_request_reply(error: ParameterError) -> Reply:
    """The 400 answer (X-Error-Code 130) to a rejected parameter."""
    return json_error_reply(400, BAD_REQUEST_CODE, BAD_REQUEST_ERROR, str(error))


def get_body(account: Account, request: GetRequest, now: int) -> bytes:
    """The JSON body of a ``/v3/get`` answer, assembled from the entries' JSON text.

    ``since`` is the server time of the request: what clients store for their next
    incremental sync. (Pocket's 2024-25 proxy put the newest time_updated of the page
    there instead; the classic API, which this follows, returned the request time.)
    """
    page = account.page(
        request.query,
        newest_first=request.newest_first,
        offset=request.offset,
        count=request.count,
        complete=request.complete,
        annotations=request.annotations,
    )
    head = (
        f'{{"status":{1 if page.entry_count else 2},'
        f'"complete":{0 if request.query.since is not None else 1},"list":'
    )
    total = f',"total":"{page.total}"' if request.total else ""
    tail = (
        f',"error":null,"search_meta":{{"search_type":"normal"}},'
        f'"since":{now},"maxActions":30,"cachetype":"db"{total}}}'
    )
    # Joined as bytes: the entries are megabytes, and this copies them only once.
    if not page.entry_count:
        return b"".join((head.encode(), b"[]", tail.encode()))
    return b"".join((head.encode(), b"{", page.entries_json.encode(), b"}", tail.encode()))


def flood_body(offset: int, entries: int) -> bytes:
    """The entries from ``offset`` up to ``entries``, each the smallest item: ``"<id>":{}``.

    What :meth:`~pocket_emulator.faults.Faults.flood` serves, whatever ``count`` asked.
    """
    listing = b",".join(b'"%d":{}' % number for number in range(offset, entries))
    status = 1 if offset < entries else 2
    return b'{"status":%d,"complete":1,"list":{%s},"total":"%d"}' % (status, listing, entries)


def flood_within(size: int) -> int:
    """How many entries :func:`flood_body` packs into at most ``size`` bytes."""
    low, high = 0, size // 8
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if len(flood_body(0, middle)) <= size else (low, middle - 1)
    return low


class _Reader:
    """Reads typed parameters, raising ParameterError the way the proxy's validator did.

    Values come as strings from query strings and forms, as any JSON type from bodies.
    """

    def __init__(self, params: t.Mapping[str, t.Any], locations: t.Mapping[str, str]) -> None:
        self._params = params
        self._locations = locations

    def _error(self, name: str) -> ParameterError:
        return ParameterError(name, self._params.get(name), self._locations.get(name, "body"))

    def choice(self, name: str, options: t.Iterable[str], default: str) -> str:
        """One of ``options`` (case-insensitive, returned lower-cased), or ``default``."""
        value = self._params.get(name)
        if value is None:
            return default
        if not isinstance(value, str) or value.lower() not in set(options):
            raise self._error(name)
        return value.lower()

    def text(self, name: str, *, allow_empty: bool = False) -> str | None:
        """A string (empty only if ``allow_empty``); None when absent."""
        value = self._params.get(name)
        if value is None:
            return None
        if not isinstance(value, str) or (not value and not allow_empty):
            raise self._error(name)
        return value

    def integer(self, name: str, minimum: int, maximum: int | None = None) -> int | None:
        """A whole number from ``minimum`` to ``maximum`` (inclusive); None when absent."""
        value = self._params.get(name)
        if value is None:
            return None
        number = _as_int(value)
        if number is None:
            raise self._error(name)
        if number < minimum or (maximum is not None and number > maximum):
            raise self._error(name)
        return number

    def flag(self, name: str) -> int | None:
        """``"0"``/``"1"`` (or the numbers); anything else, ``true`` included, is rejected."""
        value = self._params.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or str(value) not in ("0", "1"):
            raise self._error(name)
        return int(value)


def _as_int(value: t.Any) -> int | None:
    """``12``, ``"12"`` or ``12.0`` as 12; None for anything else (``"12.5"``, ``true``)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str):
        digits = value[1:] if value[:1] in ("-", "+") else value
        return int(value) if digits.isdigit() and digits.isascii() else None
    return None
