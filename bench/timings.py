"""Wall-clock bounds that no test asserts (a test's timing depends on the machine's load).

    scripts/uv run python bench/timings.py

Each line times one operation whose correctness a test checks, against the bound that test
used to assert, and prints ``pass`` or ``FAIL``; the exit status is 1 if any failed. Run it
on a quiet machine: the figures are wall time.

- The Pocket emulator serves a 5,000-item complete page in under 1 s (the property:
  tests/test_emulator.py::test_a_5000_item_complete_page_is_served_whole). The benchmarks
  run against it, so it must not be what they measure.
- The tap reads a ril_export.html with a 32 MiB unclosed attribute (skip_bad_rows) in under
  20 s (the property, including linear time in CPU:
  tests/test_hostile_exports.py::test_an_unclosed_html_attribute_is_a_bad_row_read_in_linear_time).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pocket_emulator import PocketEmulator, generate_account  # noqa: E402
from tests.test_hostile_exports import export_with_unclosed_attribute  # noqa: E402

PAGE = 5000


def emulator_page_seconds() -> float:
    """Seconds for the emulator's answer to a 5,000-item complete page (listing built)."""
    with PocketEmulator(generate_account(6000)) as emu, requests.Session() as http:
        body = {"consumer_key": emu.consumer_key, "access_token": emu.access_token}
        http.post(f"{emu.url}/v3/get", json={**body, "count": 1}, timeout=60)  # the listing
        started = time.perf_counter()
        answer = http.post(
            f"{emu.url}/v3/get",
            json={**body, "count": PAGE, "detailType": "complete"},
            timeout=60,
        ).json()
        seconds = time.perf_counter() - started
    if len(answer["list"]) != PAGE:
        raise SystemExit(f"the emulator served {len(answer['list'])} items, not {PAGE}")
    return seconds


def unclosed_attribute_seconds() -> float:
    """Seconds for the tap CLI on the 32 MiB unclosed-attribute export, bad row skipped."""
    with tempfile.TemporaryDirectory() as folder:
        path = export_with_unclosed_attribute(Path(folder), 32)
        config = Path(folder) / "config.json"
        config.write_text(json.dumps({"export_path": str(path), "skip_bad_rows": True}))
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "tap_pocket", "--config", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=True,
        )
        return time.perf_counter() - started


def main() -> int:
    """Time each operation, print pass or FAIL against its bound; 1 if any failed."""
    failed = 0
    for name, measure, bound in (
        ("emulator: a 5,000-item complete page", emulator_page_seconds, 1.0),
        ("tap: ril_export.html with a 32 MiB unclosed attribute", unclosed_attribute_seconds, 20.0),
    ):
        seconds = measure()
        ok = seconds < bound
        failed += not ok
        print(f"{'pass' if ok else 'FAIL'}  {seconds:7.2f} s  (< {bound:g} s)  {name}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
