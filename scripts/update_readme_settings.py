"""Refresh README.md's settings table from ``tap-pocket --about --format=markdown``.

Run after changing a setting: ``scripts/uv run python scripts/update_readme_settings.py``.
tests/test_docs.py fails while the README is out of date.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
SECTION = re.compile(r"(<!-- settings:start -->\n).*?(<!-- settings:end -->)", re.DOTALL)


def settings_table() -> str:
    """The settings table of ``tap-pocket --about --format=markdown``."""
    about = subprocess.run(
        [sys.executable, "-m", "tap_pocket", "--about", "--format=markdown"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    start = about.index("| Setting |")
    end = about.index("\n\n", start)
    return about[start:end].strip() + "\n"


def with_settings(readme: str, table: str) -> str:
    """``readme`` with ``table`` between its settings markers."""
    return SECTION.sub(lambda m: m.group(1) + table + m.group(2), readme)


if __name__ == "__main__":
    README.write_text(
        with_settings(README.read_text(encoding="utf-8"), settings_table()), encoding="utf-8"
    )
    print(f"updated {README}")
