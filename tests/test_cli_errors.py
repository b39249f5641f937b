"""A failed run ends with its message on one line and exit status 1, a traceback only at DEBUG."""

from __future__ import annotations

import json
import typing as t
from typing import TYPE_CHECKING

import pytest

from .conftest import run_cli
from .support import warning_lines

if TYPE_CHECKING:
    from pathlib import Path


def test_a_failure_is_one_clear_line_without_a_traceback(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "pocket.zip"
    result = run_cli(
        config={"export_path": str(missing)}, tmp_path=tmp_path, env={"LOGLEVEL": "info"}
    )

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if f"{missing}: not found" in line]
    assert len(errors) == 1
    assert "export_path" in errors[0]
    assert not result.output.records


def test_at_debug_the_traceback_is_shown(tmp_path: Path) -> None:
    missing = tmp_path / "pocket.zip"
    result = run_cli(
        config={"export_path": str(missing)},
        tmp_path=tmp_path,
        env={"TAP_POCKET_LOGLEVEL": "debug"},
    )

    assert result.returncode == 1
    assert "Traceback" in result.stderr
    assert "ExportError" in result.stderr


def test_a_normal_api_run_logs_no_warning(tmp_path: Path, api_config: dict[str, t.Any]) -> None:
    """A clean API run logs no WARNING at all.

    The SDK's 'assumed to be unsorted, not resumable' notice is false for the API streams:
    they resume at the saved offset.
    """
    result = run_cli(config=api_config, tmp_path=tmp_path, env={"LOGLEVEL": "info"})

    assert result.returncode == 0
    assert result.output.records["items"]
    assert result.output.records["highlights"]
    assert warning_lines(result.stderr) == []
    assert "progress_markers" not in json.dumps(result.output.state)


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ({}, "Missing setting(s) consumer_key, access_token"),
        ({"consumer_key": "ck-1", "access_token": "at-1", "page_size": 0}, "config['page_size']"),
    ],
)
@pytest.mark.parametrize("args", [(), ("--test",)])
def test_invalid_settings_are_one_line_naming_them(
    tmp_path: Path, config: dict[str, t.Any], named: str, args: tuple[str, ...]
) -> None:
    """The last line (what `meltano config test` shows) names the problem, not the schema."""
    result = run_cli(*args, config=config, tmp_path=tmp_path)

    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.stderr
    assert named in lines[-1]
    assert max(len(line) for line in lines) < 1000, "a line holds the settings schema"
    assert not result.output.messages
