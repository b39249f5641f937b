"""The user documentation as tests read it: README.md and every page of docs/.

README.md is the landing page (its links are absolute, so that it renders on PyPI); the rest
lives in docs/*.md. A test that checks what the documentation says asks this module for a
section by its heading, or for the fenced blocks of one language, wherever the text lives,
instead of opening one file.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
#: How README links to a file of the repository (absolute: PyPI renders README alone).
BLOB_URL = "https://github.com/tap-pocket/tap-pocket/blob/main/"
#: The section whose SQL blocks tests/e2e/test_pages.py runs on a real DuckDB load.
PAGES_SECTION = "Page metadata, link health and archived copies"

_FENCE = re.compile(r"^```(\S*)\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
_HEADING = re.compile(r"^(#{1,6}) +(.+?) *#*$", re.MULTILINE)


def pages() -> list[Path]:
    """README.md, then the pages of docs/ in name order."""
    return [README, *sorted(DOCS.glob("*.md"))]


def text(page: Path) -> str:
    return page.read_text(encoding="utf-8")


def without_code(markdown: str) -> str:
    """``markdown`` with each fenced block blanked (same length, so offsets still match)."""
    return _FENCE.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), markdown)


def fenced(language: str, markdown: str | None = None) -> list[str]:
    """The fenced blocks of ``language`` in ``markdown``, or in every page, in order."""
    sources = [markdown] if markdown is not None else [text(page) for page in pages()]
    return [body for source in sources for lang, body in _FENCE.findall(source) if lang == language]


def headings(markdown: str) -> list[tuple[int, str, int]]:
    """Each heading outside code: (level, title, offset)."""
    return [
        (len(m.group(1)), m.group(2), m.start()) for m in _HEADING.finditer(without_code(markdown))
    ]


def section(title: str) -> tuple[Path, str]:
    """The page holding the heading ``title``, and the text under it.

    The section ends at the next heading of the same or a higher level. Exactly one page may
    hold that heading.
    """
    found = []
    for page in pages():
        markdown = text(page)
        marks = headings(markdown)
        for n, (level, heading, start) in enumerate(marks):
            if heading == title:
                end = next((s for lv, _, s in marks[n + 1 :] if lv <= level), len(markdown))
                found.append((page, markdown[start:end]))
    assert len(found) == 1, f"heading {title!r} is in {len(found)} places of the docs"
    return found[0]


def pages_queries() -> list[str]:
    """The SQL blocks of the pages stream's documentation, in order."""
    return fenced("sql", section(PAGES_SECTION)[1])


def anchor(title: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as '-'."""
    return re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    """The anchors of the headings of ``markdown`` (repeats get GitHub's -1, -2 suffixes)."""
    seen: dict[str, int] = {}
    result = set()
    for _, title, _ in headings(markdown):
        base = anchor(title)
        count = seen.get(base, 0)
        seen[base] = count + 1
        result.add(base if count == 0 else f"{base}-{count}")
    return result


def links(markdown: str) -> list[str]:
    """The targets of the inline Markdown links outside code (images included)."""
    prose = re.sub(r"`[^`\n]*`", "", without_code(markdown))
    return re.findall(r"\]\(([^()\s]+)\)", prose)


#: Inline code spans that are commands: they start with one of these words.
COMMAND_WORDS = ("meltano", "uv", "scripts/", "tap-pocket", "pip", "pipx", "python", "git")


def commands(markdown: str) -> set[str]:
    """The shell commands ``markdown`` gives: fenced bash lines and inline commands."""
    found = set()
    for block in fenced("bash", markdown):
        for line in block.splitlines():
            command = re.sub(r"\s+#\s.*$", "", line).strip()
            if command and not command.startswith("#"):
                found.add(command)
    prose = without_code(markdown)
    # An inline span may wrap onto the next line: Markdown reads the line break as a space.
    for span in re.findall(r"`([^`]+)`", re.sub(r"``+", "", prose)):
        command = " ".join(span.split())
        if "\n\n" not in span and " " in command and command.split()[0].startswith(COMMAND_WORDS):
            found.add(command)
    return found
