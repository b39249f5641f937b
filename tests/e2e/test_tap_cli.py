"""The ``tap-pocket`` command as Meltano drives it: subcommands, start-up checks.

No Meltano CLI here (these run with the plain suite); the Meltano side of the same paths
is in test_meltano_cli.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import typing as t

import pytest

from tests.conftest import run_cli
from tests.support import warning_lines

from .conftest import REPO

if t.TYPE_CHECKING:
    from pathlib import Path

DEMO = str(REPO / "demo" / "pocket.zip")


def test_help_lists_the_auth_subcommand(tmp_path: Path) -> None:
    result = run_cli("--help", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    commands = result.stdout.split("Commands:", 1)[1]
    assert commands.split()[0] == "auth"
    assert "--discover" in result.stdout  # still the SDK's tap command


def test_auth_help(tmp_path: Path) -> None:
    result = run_cli("auth", "--help", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    for option in ("--consumer-key", "--no-browser", "--write-env", "--api-url"):
        assert option in result.stdout


def test_auth_after_the_tap_options_does_not_run_the_tap(tmp_path: Path) -> None:
    """Options of the tap before `auth` (as `meltano invoke` may add) run no sync."""
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"export_path": DEMO}), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "tap_pocket", "--config", str(config), "auth"],
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if not k.startswith("TAP_POCKET_")},
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 2  # auth alone, missing its key
    assert "Missing option '--consumer-key'" in result.stderr
    assert result.stdout == ""


def test_a_run_from_an_export_logs_no_warning(tmp_path: Path) -> None:
    result = run_cli(config={"export_path": DEMO}, tmp_path=tmp_path, env={"LOGLEVEL": "info"})
    assert result.returncode == 0, result.stderr
    assert result.output.records
    assert warning_lines(result.stderr) == []
    # An export is a snapshot: no bookmark that no later run would read.
    assert "replication_key_value" not in json.dumps(result.output.state)


def test_missing_export_stops_before_any_message(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.zip"
    result = run_cli(config={"export_path": str(missing)}, tmp_path=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""  # not even a SCHEMA
    (line,) = [line for line in result.stderr.splitlines() if "ERROR" in line]
    assert f"{missing}: not found" in line
    assert "export_path" in line


@pytest.mark.parametrize(
    "mapping",
    [
        {"stream_maps": {"items": {"host": "1"}}},
        {"flattening_enabled": True, "flattening_max_depth": 1},
    ],
    ids=["stream_maps", "flattening"],
)
def test_batch_with_stream_maps_stops_before_any_message(
    tmp_path: Path, mapping: dict[str, t.Any]
) -> None:
    batch_config = {
        "encoding": {"format": "jsonl", "compression": "none"},
        "storage": {"root": (tmp_path / "batches").as_uri()},
    }
    config = {"export_path": DEMO, "batch_config": batch_config, **mapping}
    result = run_cli(config=config, tmp_path=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    name = next(iter(mapping))
    errors = [line for line in result.stderr.splitlines() if "batch_config cannot" in line]
    assert len(errors) == 1
    assert name in errors[0]
    assert not (tmp_path / "batches").exists()
    assert "Traceback" not in result.stderr
