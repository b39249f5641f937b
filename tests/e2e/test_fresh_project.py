"""README's Meltano session, line by line as written, in a new project outside the repository.

The test takes the "With Meltano" block out of README.md and runs it in one shell, the way a
user pastes it: a home folder of its own in a temporary directory, holding a copy of this
repository at ``~/tap-pocket`` and the demo export at ``~/Downloads/pocket.zip``; Meltano
Hub answered by the stand-in of :mod:`.meltano_hub` (these machines cannot reach
hub.meltano.com). Every command must exit 0, and the project must end with exactly the
plugins the block adds, no stray one: ``meltano add extractor tap-pocket`` (the Meltano 3
form) adds a utility too on Meltano 4. The session's commands and output are kept as a
transcript (its path is printed; ``TAP_POCKET_TRANSCRIPT=<file>`` also copies it there).

The Hub line of docs/meltano-hub.md (``--variant``, once tap-pocket is published) and the
README's line that replaces the first ones after the release run against the same stand-in,
which serves ``hub/tap-pocket.yml`` as the Hub will.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest
import yaml

from tests import doc_pages

from .conftest import REPO, clean_env, meltano_executable
from .meltano_hub import MeltanoHub

pytestmark = pytest.mark.e2e

DEMO_ITEMS = 30
DEMO_UNREAD = 17
DEMO_HIGHLIGHTS = 9
EXIT = re.compile(r"^@@exit (\d+)@@$", re.MULTILINE)
#: What the repository copy at ~/tap-pocket leaves out: build outputs, environments, caches,
#: local data and secrets, as a fresh clone has none of them.
NOT_IN_A_CLONE = shutil.ignore_patterns(
    ".git",
    ".venv",
    ".tools",
    ".meltano",
    ".env",
    "dist",
    "build",
    "output",
    "*.duckdb*",
    "__pycache__",
    ".*_cache",
    "bench",
)


def meltano_blocks() -> list[list[str]]:
    """The command lines of each bash block of the docs' "With Meltano" section, as written."""
    _, text = doc_pages.section("With Meltano")
    return [
        [line for line in block.splitlines() if line.strip()]
        for block in doc_pages.fenced("bash", text)
    ]


def meltano_block() -> list[str]:
    """The first: from a new project to a first load."""
    return meltano_blocks()[0]


def documented_commands() -> set[str]:
    """Every command the docs give (fenced bash lines and inline commands)."""
    return {
        command
        for page in doc_pages.pages()
        for command in doc_pages.commands(doc_pages.text(page))
    }


def uv_cache() -> str:
    """The real user's uv cache: the session's own HOME would start a cold one."""
    if os.environ.get("UV_CACHE_DIR"):
        return os.environ["UV_CACHE_DIR"]
    found = subprocess.run(
        [str(meltano_executable().with_name("uv")), "cache", "dir"],
        capture_output=True,
        text=True,
        check=True,
    )
    return found.stdout.strip()


class Session:
    """One shell session of pasted lines, in ``cwd``, with its own HOME."""

    def __init__(self, home: Path, hub: MeltanoHub) -> None:
        self.home = home
        self.env = clean_env(
            HOME=str(home),
            PATH=f"{meltano_executable().parent}{os.pathsep}{os.environ.get('PATH', '')}",
            MELTANO_HUB_URL=hub.url,
            MELTANO_HUB_API_ROOT=f"{hub.url}/meltano/api/v1",
            UV_CACHE_DIR=uv_cache(),
        )
        self.transcript: list[str] = []

    def run(self, lines: list[str], cwd: Path) -> list[int]:
        """Run ``lines`` in one bash, as pasted; the exit status of each."""
        script = "".join(
            f"printf '%s\\n' {shlex.quote('$ ' + line)}\n{line}\nprintf '@@exit %s@@\\n' \"$?\"\n"
            for line in lines
        )
        completed = subprocess.run(
            [shutil.which("bash") or "/bin/bash", "-c", script],
            cwd=cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=1800,
            check=False,
        )
        self.transcript.append(f"# in {cwd}\n{completed.stdout}")
        statuses = [int(status) for status in EXIT.findall(completed.stdout)]
        assert len(statuses) == len(lines), completed.stdout[-6000:]
        return statuses

    def save(self, path: Path, *, readme: bool = False) -> None:
        """Keep the transcript at ``path`` (README's session: also at $TAP_POCKET_TRANSCRIPT)."""
        text = "\n".join(self.transcript)
        path.write_text(text, encoding="utf-8")
        sys.stderr.write(f"\n[e2e] the Meltano session's transcript: {path}\n")
        if readme and os.environ.get("TAP_POCKET_TRANSCRIPT"):
            Path(os.environ["TAP_POCKET_TRANSCRIPT"]).write_text(text, encoding="utf-8")


def plugins(project: Path) -> dict[str, list[str]]:
    """The project's plugins by type, as meltano.yml lists them: all of them."""
    document = yaml.safe_load((project / "meltano.yml").read_text(encoding="utf-8"))
    return {
        kind: [plugin["name"] for plugin in entries]
        for kind, entries in (document.get("plugins") or {}).items()
    }


def extractor(project: Path) -> dict[str, t.Any]:
    document = yaml.safe_load((project / "meltano.yml").read_text(encoding="utf-8"))
    (tap,) = document["plugins"]["extractors"]
    return dict(tap)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A user's home: the clone at ~/tap-pocket, the export at ~/Downloads/pocket.zip."""
    home = tmp_path_factory.mktemp("home")
    shutil.copytree(REPO, home / "tap-pocket", ignore=NOT_IN_A_CLONE)
    (home / "Downloads").mkdir()
    shutil.copy(REPO / "demo" / "pocket.zip", home / "Downloads" / "pocket.zip")
    return home


def test_readme_meltano_session_in_a_fresh_project(home: Path, tmp_path: Path) -> None:
    """The section's blocks in one session: the first load, then the stream-map lines."""
    first, *more = meltano_blocks()
    assert len(more) == 1, "a new block in the section: run it here, check what it does"
    (maps,) = more
    lines = [*first, *maps]
    with MeltanoHub() as hub:
        session = Session(home, hub)
        try:
            statuses = session.run(lines, cwd=tmp_path)
        finally:
            session.save(tmp_path / "transcript.txt", readme=True)
    assert dict(zip(lines, statuses, strict=True)) == dict.fromkeys(lines, 0)
    assert not hub.unknown, hub.unknown

    (project,) = [path.parent for path in tmp_path.glob("*/meltano.yml")]
    assert REPO not in project.parents
    assert plugins(project) == {"extractors": ["tap-pocket"], "loaders": ["target-jsonl"]}
    tap = extractor(project)
    definition = yaml.safe_load((REPO / "hub" / "tap-pocket.yml").read_text(encoding="utf-8"))
    assert tap["pip_url"] == definition["pip_url"]  # found in ~/tap-pocket/dist
    assert tap["capabilities"] == definition["capabilities"]
    assert [s["name"] for s in tap["settings"]] == [s["name"] for s in definition["settings"]]
    assert tap["select"] == ["items.*", "highlights.*"]
    assert tap["config"] == {
        "export_path": str(home / "Downloads" / "pocket.zip"),
        "stream_maps": {"items": {"__filter__": 'status == "unread"'}},  # an object
    }
    rows = {
        stream: [
            json.loads(line)
            for line in (project / "output" / f"{stream}.jsonl").read_text().splitlines()
        ]
        for stream in ("items", "highlights")
    }
    # target-jsonl appends: the first run's rows, then the stream-map run's.
    first_items, mapped = rows["items"][:DEMO_ITEMS], rows["items"][DEMO_ITEMS:]
    assert len({row["item_id"] for row in first_items}) == DEMO_ITEMS
    assert all(row["item_id"].startswith("u") for row in first_items)  # an export's ids
    # The filter drops the highlights of the items it drops (all of the demo's belong to
    # archived items): the stream-map run adds none.
    unread = {row["item_id"] for row in first_items if row["status"] == "unread"}
    assert len(rows["highlights"]) == DEMO_HIGHLIGHTS
    assert not [h for h in rows["highlights"] if h["item_id"] in unread]
    assert not (project / "output" / "pages.jsonl").exists()  # the opt-in stream stayed off
    # Meltano merges the environment's map into meltano.yml's: the unread items only, each
    # with its host.
    assert len(mapped) == DEMO_UNREAD
    assert {row["status"] for row in mapped} == {"unread"}
    assert all(row["host"] == row["given_url"].split("/")[2] for row in mapped)


def test_adding_tap_pocket_from_meltano_hub(home: Path, tmp_path: Path) -> None:
    """The docs' commands for after the release, against a Hub serving hub/tap-pocket.yml.

    The package is not on PyPI yet: the "With Meltano" block's first two lines build it and
    point Meltano's installer at it, as they do before the release. Each command runs in a
    new project of its own.
    """
    commands = [
        "meltano add --plugin-type extractor tap-pocket --variant tap-pocket",
        "meltano add --plugin-type extractor tap-pocket",
    ]
    assert set(commands) <= documented_commands()
    build, find_links = meltano_block()[:2]
    assert "scripts/uv build --wheel" in build
    assert find_links.startswith("export UV_FIND_LINKS=")
    # The Hub page's `usage` line that opts in to the pages stream, as Meltano takes it.
    definition = yaml.safe_load((REPO / "hub" / "tap-pocket.yml").read_text(encoding="utf-8"))
    (select_pages,) = re.findall(r"`(meltano select [^`]+)`", definition["usage"])
    lines = [build, find_links]
    for n, command in enumerate(commands):
        lines += [f"meltano init hub-{n} && cd hub-{n}", command, select_pages, "cd .."]
    with MeltanoHub() as hub:
        session = Session(home, hub)
        try:
            assert session.run(lines, cwd=tmp_path) == [0] * len(lines)
        finally:
            session.save(tmp_path / "transcript.txt")
    assert not hub.unknown, hub.unknown
    for n in range(len(commands)):
        assert plugins(tmp_path / f"hub-{n}") == {"extractors": ["tap-pocket"]}
        assert extractor(tmp_path / f"hub-{n}")["variant"] == "tap-pocket"
        assert "pages.*" in extractor(tmp_path / f"hub-{n}")["select"]
