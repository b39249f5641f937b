"""The notes of one release: its section of CHANGELOG.md, for the GitHub release.

    python scripts/release_notes.py v0.2.0     # the body of "## [0.2.0] - <date>"

The release workflow (.github/workflows/release.yml) runs it on the pushed tag before
anything is published: a tag without its CHANGELOG section (or not ``v`` + a PEP 440
version) stops the release with one line, exit status 1.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from packaging.version import InvalidVersion, Version

CHANGELOG = Path(__file__).resolve().parent.parent / "CHANGELOG.md"


class ReleaseNotesError(ValueError):
    """The tag or the CHANGELOG does not give this release its notes."""


def release_notes(tag: str, changelog: str) -> str:
    """The text under ``## [<version>] - <date>`` up to the next ``## `` heading."""
    try:
        version = Version(tag.removeprefix("v"))
    except InvalidVersion:
        raise ReleaseNotesError(f"tag {tag!r} is not v<version>, e.g. v0.2.0") from None
    if not tag.startswith("v") or str(version) != tag[1:]:
        raise ReleaseNotesError(f"tag {tag!r} is not v<version> in its normal form, e.g. v0.2.0")
    heading = re.compile(rf"^## \[{re.escape(tag[1:])}\] - \d{{4}}-\d{{2}}-\d{{2}}$", re.MULTILINE)
    found = heading.search(changelog)
    if found is None:
        raise ReleaseNotesError(
            f"CHANGELOG.md has no section '## [{tag[1:]}] - YYYY-MM-DD' for tag {tag}"
        )
    rest = changelog[found.end() :]
    end = re.search(r"^(## |\[[^\]]+\]: )", rest, re.MULTILINE)
    notes = (rest[: end.start()] if end else rest).strip()
    if not notes:
        raise ReleaseNotesError(f"CHANGELOG.md's section for {tag} is empty")
    return notes + "\n"


def main(argv: list[str]) -> int:
    """Print the notes of the tag in ``argv``; one line and status 1 when there are none."""
    if len(argv) != 1:
        print("usage: release_notes.py vX.Y.Z", file=sys.stderr)
        return 2
    try:
        notes = release_notes(argv[0], CHANGELOG.read_text(encoding="utf-8"))
    except ReleaseNotesError as error:
        print(f"release_notes.py: {error}", file=sys.stderr)
        return 1
    sys.stdout.write(notes)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
