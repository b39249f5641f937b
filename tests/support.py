"""Helpers shared by test modules (fixtures live in conftest.py)."""

from __future__ import annotations

import os
import typing as t

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def unavailable(reason: str) -> t.NoReturn:
    """Skip on a user's machine that lacks ``reason``; fail under CI, which must run it."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: this test must run, not skip)", pytrace=False)
    pytest.skip(reason)


def completed(row: dict[str, t.Any], fields: tuple[str, ...]) -> dict[str, t.Any]:
    """An export reader row, which holds only the columns with a value, with the others
    as null: checks that contract, then lets tests compare whole rows."""
    assert set(row) <= set(fields), set(row) - set(fields)
    assert None not in row.values(), row
    return {field: row.get(field) for field in fields}
