"""Pocket's moments as the ISO 8601 UTC text the rows hold.

Pocket sends unix seconds (as strings in its API, as digits in exports) and ``"0"`` for
"never"; annotations carry ISO 8601 from the API and epoch seconds in exports. Every
timestamp of every row goes through :func:`unix_to_iso`, so it is built from cached
pieces rather than a ``datetime`` per value. Unix seconds written as text in any other
way (``1600000000.0``, ``1.6e9``, ``1600000000.5``) are read by :func:`read_unix_time`,
the one reading of them: to the second, a fraction cut (rounded down), as Pocket kept
whole seconds.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass
from datetime import date, datetime, timezone

from tap_pocket.scalars import parse_int

# Pocket (then "Read It Later") launched in 2007; anything before 2000 or after 2100 is
# junk such as the ``"time_read": "2020"`` seen in real responses, not a moment in time.
EARLIEST = 946_684_800  # 2000-01-01T00:00:00Z
LATEST = 4_102_444_800  # 2100-01-01T00:00:00Z

_UNIX_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_HOURS = tuple(f"{h:02d}:" for h in range(24))
_MINUTES_SECONDS = tuple(f"{s // 60:02d}:{s % 60:02d}+00:00" for s in range(3600))


class _UtcDayPrefixes(dict[int, str]):
    """Days since 1970 to ``"2020-09-17T"``, computed on first use.

    Per day, not per hour: a library's timestamps are spread over years, and its
    distinct days (a few thousand) stay cached where its distinct hours would not.
    """

    limit = 65_536  # ~180 years of days; a cleared cache refills from the days in use

    def __missing__(self, day: int) -> str:
        if len(self) >= self.limit:
            self.clear()
        prefix = date.fromordinal(_UNIX_EPOCH_ORDINAL + day).isoformat() + "T"
        self[day] = prefix
        return prefix


_DAY_PREFIXES = _UtcDayPrefixes()


def unix_to_iso(seconds: int | None) -> str | None:
    """Unix seconds to ISO 8601 UTC as ``datetime.isoformat`` writes it.

    None for None and for anything outside 2000-2100.
    """
    if seconds is None or not EARLIEST <= seconds < LATEST:
        return None
    day, second_of_day = divmod(seconds, 86400)
    hour, second_of_hour = divmod(second_of_day, 3600)
    return _DAY_PREFIXES[day] + _HOURS[hour] + _MINUTES_SECONDS[second_of_hour]


@dataclass(frozen=True)
class UnixTime:
    """Unix seconds read from text: the moment, and whether a fraction of a second was cut."""

    #: ISO 8601 UTC; None if the text is not a number, or one outside 2000-2100.
    iso: str | None
    fraction_cut: bool = False
    #: Whether the text is a number at all.
    number: bool = True


NOT_A_NUMBER = UnixTime(None, number=False)


def read_unix_time(text: str) -> UnixTime:
    """Unix seconds written as text, to the second.

    ``"1600000000"``, ``"1600000000.0"`` and ``"1.6e9"`` are that second;
    ``"1600000000.75"`` is rounded down to it, and says so (:attr:`UnixTime.fraction_cut`).
    Decimal, not float: ``"1600000000.9999999999"`` is still the second before. A number
    outside 2000-2100 is never built as an integer (``"1e999999999"``).
    """
    try:
        return UnixTime(unix_to_iso(int(text)))
    except ValueError:
        pass
    # Imported here: only text that is not whole seconds needs it, and start-up is shorter.
    from decimal import ROUND_FLOOR, Decimal, InvalidOperation

    try:
        number = Decimal(text)
    except (InvalidOperation, ValueError):  # ValueError: a string of over 4300 digits
        return NOT_A_NUMBER
    if not number.is_finite():
        return NOT_A_NUMBER
    second = number.to_integral_value(rounding=ROUND_FLOOR)
    iso = unix_to_iso(int(second)) if EARLIEST <= second < LATEST else None
    return UnixTime(iso, fraction_cut=second != number)


def parse_timestamp(value: t.Any) -> str | None:
    """Pocket unix-seconds (string or number) to ISO 8601 UTC, or None.

    ``"0"``, empty values and junk outside 2000-2100 (e.g. ``"2020"``) give None; other
    ways of writing the seconds are read by :func:`read_unix_time`.
    """
    if value == "0":  # Pocket's "never", by far the most common value of time_read & co
        return None
    if isinstance(value, (str, float)):
        return read_unix_time(str(value)).iso
    return unix_to_iso(parse_int(value))


def parse_iso_or_epoch(value: t.Any) -> str | None:
    """Annotation ``created_at``: ISO 8601 from the API, epoch seconds in exports."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)):
        return parse_timestamp(value)
    text = str(value).strip()
    read = read_unix_time(text)
    if read.number:
        return read.iso
    try:
        parsed = datetime.fromisoformat(text.replace(" ", "T", 1).replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc).isoformat()
