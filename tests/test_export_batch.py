"""BATCH mode in export mode: the batch files hold exactly the rows RECORD mode emits."""

from __future__ import annotations

import gzip
import json
import typing as t
from pathlib import Path

import pytest

from .conftest import FIXTURES, run_tap

SAMPLE = FIXTURES / "export" / "pickpocket_ril_export_2020-08.html"


def read_batches(output: t.Any, stream: str) -> list[dict[str, t.Any]]:
    rows: list[dict[str, t.Any]] = []
    for message in output.messages:
        if message["type"] == "BATCH" and message["stream"] == stream:
            for url in message["manifest"]:
                path = Path(url.removeprefix("file://"))
                data = path.read_bytes()
                if path.suffix == ".gz":
                    data = gzip.decompress(data)
                rows += [json.loads(line) for line in data.splitlines()]
    return rows


@pytest.mark.parametrize("compression", ["gzip", "none"])
def test_batch_files_hold_the_record_mode_rows(tmp_path: Path, compression: str) -> None:
    records = run_tap({"export_path": str(SAMPLE)}).records["items"]
    batch_config = {
        "encoding": {"format": "jsonl", "compression": compression},
        "storage": {"root": f"file://{tmp_path}"},
        "batch_size": 100,
    }
    output = run_tap({"export_path": str(SAMPLE), "batch_config": batch_config})

    assert not output.records["items"]
    batches = [m for m in output.messages if m["type"] == "BATCH" and m["stream"] == "items"]
    assert len(batches) == 5  # 421 rows in files of 100
    assert read_batches(output, "items") == records
    assert len(records) == 421
