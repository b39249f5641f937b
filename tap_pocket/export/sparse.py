"""Export rows hold only the columns that have a value.

An export lacks most columns (favorite, time_read, resolved_*, excerpt, word_count, …);
they stay null, nothing is invented. A column missing from a row is null to every Singer
target, and leaving it out keeps messages small and the SDK's per-property work short: a
CSV row has 7 keys of 33. The CSV and HTML readers build such dicts directly (their hot
loops); rows built as :mod:`tap_pocket.rows` structs (highlights, API dumps) become one
through :func:`sparse_record`.
"""

from __future__ import annotations

import typing as t

import msgspec

if t.TYPE_CHECKING:
    from tap_pocket.rows import Row


def sparse_record(row: Row) -> dict[str, t.Any]:
    """The columns of ``row`` that are not null, in column order, as plain JSON values.

    Nested objects become dicts, as :func:`tap_pocket.rows.to_record` gives them.
    """
    to_builtins = msgspec.to_builtins
    return {
        name: value if type(value) is str else to_builtins(value)
        for name, value in zip(row.__struct_fields__, msgspec.structs.astuple(row), strict=True)
        if value is not None
    }
