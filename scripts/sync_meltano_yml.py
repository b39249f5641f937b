"""Refresh the tap-pocket extractor of meltano.yml from the tap's own ``--about`` output.

The ``capabilities``, ``settings`` and ``settings_group_validation`` of the extractor are
rewritten exactly as the Meltano Hub definition (``hub/generate.py``) derives them, so the
project file and the Hub entry can never disagree with the tap. Everything else in
meltano.yml (the loaders, environments, comments) is kept as it is.

    uv run --group meltano python scripts/sync_meltano_yml.py          # rewrite
    uv run --group meltano python scripts/sync_meltano_yml.py --check  # exit 1 if stale

``tests/e2e/test_meltano_project.py`` fails when meltano.yml is stale.
"""

from __future__ import annotations

import io
import sys
import typing as t
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MELTANO_YML = ROOT / "meltano.yml"
SYNCED_KEYS = ("capabilities", "settings_group_validation", "settings")


def tap_definition() -> dict[str, t.Any]:
    """The tap's Hub definition, computed now from ``tap-pocket --about``."""
    sys.path.insert(0, str(ROOT))
    from hub.generate import about, definition  # needs the root on sys.path

    return definition(about())


def synced_text(text: str, generated: dict[str, t.Any]) -> str:
    """``text`` (meltano.yml) with the extractor's synced keys from ``generated``."""
    from ruamel.yaml import YAML  # dependency group meltano only

    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=2, offset=0)
    document = yaml.load(text)
    (extractor,) = [p for p in document["plugins"]["extractors"] if p["name"] == "tap-pocket"]
    for key in SYNCED_KEYS:
        extractor[key] = generated[key]
    out = io.StringIO()
    yaml.dump(document, out)
    return out.getvalue()


def main(argv: list[str]) -> int:
    """Rewrite meltano.yml, or with ``--check`` exit 1 if it is stale."""
    current = MELTANO_YML.read_text(encoding="utf-8")
    updated = synced_text(current, tap_definition())
    if "--check" in argv:
        if updated != current:
            print("meltano.yml is stale: run scripts/sync_meltano_yml.py", file=sys.stderr)
            return 1
        return 0
    MELTANO_YML.write_text(updated, encoding="utf-8")
    print(f"wrote {MELTANO_YML}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
