"""Pocket's scalars as clean values: digit strings to integers, ``"0"``/``"1"`` to booleans.

Pocket's v3 API sends nearly every number as a string (``"1588"``), and real responses
hold the odd float (``12.0``, ``"1e3"``) and junk. These are the one reading of them, used
by the API rows, API dumps and exports alike.
"""

from __future__ import annotations

import typing as t


def parse_int(value: t.Any) -> int | None:  # noqa: PLR0911 - one return per JSON type, hot
    """``"1588"``, ``1588``, ``1588.0`` or ``"1.588e3"`` to 1588; anything else to None.

    Empty, fractional or non-numeric values give None: the integers msgspec reads from the
    same JSON in lax mode.
    """
    if type(value) is str:  # the usual case first: this runs for every field of every item
        try:
            return int(value)  # int() itself ignores surrounding whitespace
        except ValueError:
            return _integral_float(value)
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    try:
        return int(str(value))
    except ValueError:
        return None


def _integral_float(text: str) -> int | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return int(number) if number.is_integer() else None


def parse_text(value: t.Any) -> str | None:
    """Any JSON scalar as text (Pocket sends ids and titles as numbers at times)."""
    return None if value is None else str(value)
