"""The built wheel and sdist are complete, install cleanly, and the Hub definition works."""

from __future__ import annotations

import ast
import email
import importlib.metadata
import importlib.util
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import typing as t
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from pocket_emulator import FakeClock, PocketEmulator, generate_account

from .conftest import parse_messages
from .support import unavailable

ROOT = Path(__file__).resolve().parent.parent


def uv() -> str:
    found = shutil.which("uv")
    if found is None:
        unavailable("uv is not installed")
    return found


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [uv(), "build", "--sdist", "--wheel", "-o", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        text=True,
    )
    return out


@pytest.fixture(scope="module")
def wheel(dist: Path) -> Path:
    (found,) = dist.glob("tap_pocket-*.whl")
    return found


def test_wheel_metadata_is_complete(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        (metadata_name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = email.message_from_bytes(archive.read(metadata_name))
        names = archive.namelist()
    assert metadata["Name"] == "tap-pocket"
    assert metadata["Summary"].startswith("Singer tap for Pocket")
    assert metadata["License-Expression"] == "Apache-2.0"
    assert any(n.endswith("licenses/LICENSE") for n in names)
    assert metadata["Requires-Python"] == ">=3.10"
    classifiers = metadata.get_all("Classifier")
    for version in ("3.10", "3.11", "3.12", "3.13", "3.14"):
        assert f"Programming Language :: Python :: {version}" in classifiers
    urls = dict(u.split(", ", 1) for u in metadata.get_all("Project-URL"))
    assert {"Homepage", "Repository", "Issues", "Changelog"} <= set(urls)
    assert metadata["Description-Content-Type"] == "text/markdown"
    assert "Pocket closed in 2025" in metadata.get_payload()
    assert "tap_pocket/tap.py" in names
    # Only the tap: the Pocket emulator is a development package (tests, bench), not shipped.
    top_level = {n.split("/", 1)[0] for n in names if not n.split("/", 1)[0].endswith(".dist-info")}
    assert top_level == {"tap_pocket"}, top_level
    assert not [n for n in names if "emulator" in n], names
    assert any(n.endswith("entry_points.txt") for n in names)


@pytest.fixture(scope="module")
def sdist_members(dist: Path) -> set[str]:
    """The sdist's files, as paths inside its top folder."""
    (sdist,) = dist.glob("tap_pocket-*.tar.gz")
    with tarfile.open(sdist) as archive:
        return {m.name.split("/", 1)[1] for m in archive.getmembers() if m.isfile()}


def tracked_files(*patterns: str) -> set[str]:
    """The repository's files matching ``patterns`` (git ls-files), or unavailable."""
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        unavailable("not a git checkout: the repository's file list is unknown")
    command = [git, "-C", str(ROOT), "ls-files", "--", *patterns]
    listed = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return {name for name in listed.splitlines() if (ROOT / name).is_file()}


#: The repository's own tooling and the tests of it: never in the sdist.
NOT_SHIPPED = (
    "uv.lock",
    "bench/",
    ".ci/",
    ".github/",
    ".pre-commit-config.yaml",
    "package.json",
    "package-lock.json",
    "meltano.yml",
    "hub/",
    "scripts/",
    "demo/queries/",
    "tests/e2e/",
    "tests/test_docs.py",
    "tests/test_hub.py",
    "tests/test_packaging.py",
)


def test_sdist_holds_the_package_its_tests_and_docs(sdist_members: set[str]) -> None:
    shipped = tracked_files("tap_pocket", "pocket_emulator", "tests", "docs") | {
        "README.md",
        "CHANGELOG.md",
        "LICENSE",
        "pyproject.toml",
        "demo/pocket.zip",  # the demo export, which tests read too
    }
    expected = {name for name in shipped if not name.startswith(NOT_SHIPPED)}
    # hatchling adds PKG-INFO and the .gitignore it read.
    assert sdist_members - expected == {"PKG-INFO", ".gitignore"}
    assert expected <= sdist_members
    assert {"tap_pocket/py.typed", "tests/fixtures/pages/corpus/LICENSE"} <= sdist_members
    assert "tests/test_records.py" in sdist_members


def test_the_sdists_tests_collect_from_the_sdist_alone(dist: Path, tmp_path: Path) -> None:
    """Unpacked, the sdist's tests import the package and emulator from its own files."""
    (sdist,) = dist.glob("tap_pocket-*.tar.gz")
    with tarfile.open(sdist) as archive:
        archive.extractall(tmp_path, filter="data")
    (unpacked,) = tmp_path.iterdir()
    script = (
        "import os, sys, pytest, tap_pocket, pocket_emulator\n"
        "code = pytest.main(sys.argv[1:])\n"
        "for module in (tap_pocket, pocket_emulator):\n"
        "    assert module.__file__.startswith(os.getcwd()), module.__file__\n"
        "sys.exit(code)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, "--collect-only", "-q", "-p", "no:cacheprovider"],
        cwd=unpacked,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    collected = re.search(r"^(\d+) tests collected", result.stdout, re.MULTILINE)
    assert collected, result.stdout[-1000:]
    assert int(collected.group(1)) > 300


def test_readme_on_pypi_links_only_to_absolute_urls(wheel: Path) -> None:
    """PyPI shows README without the repository: a relative link or image there is broken."""
    readme = wheel_metadata(wheel).get_payload()
    assert isinstance(readme, str)
    inline = re.findall(r"\]\(\s*<?([^)\s>]+)", readme)
    references = re.findall(r"^\s*\[[^\]]+\]:\s*(\S+)", readme, re.MULTILINE)
    html = re.findall(r"""(?:href|src)=["']([^"']+)""", readme)
    targets = inline + references + html
    assert len(targets) > 10, targets
    assert [t for t in targets if not t.startswith(("https://", "http://"))] == []


def test_twine_check_strict_passes_on_both_dists(dist: Path) -> None:
    """What PyPI checks on upload, README rendered as PyPI renders Markdown."""
    assert importlib.util.find_spec("comrak"), "readme-renderer[md] renders Markdown"
    dists = sorted(str(p) for p in dist.glob("tap_pocket-*") if p.suffix in {".whl", ".gz"})
    assert len(dists) == 2
    result = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *dists],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("PASSED") == 2, result.stdout


def wheel_metadata(wheel: Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        return email.message_from_bytes(archive.read(name))


def git_tags(*args: str) -> list[str]:
    """``git tag --list 'v*'`` in this checkout, with ``args`` (empty without git)."""
    git = shutil.which("git")
    if git is None:
        return []
    command = [git, "-C", str(ROOT), "tag", *args, "--list", "v*"]
    return subprocess.run(command, capture_output=True, text=True, check=False).stdout.split()


def test_version_comes_from_git_and_the_wheel_is_typed(wheel: Path) -> None:
    """hatch-vcs: the version is the git tag's, or a dev version after the last tag."""
    version = wheel_metadata(wheel)["Version"]
    parsed = Version(version)  # PEP 440, or this raises
    assert parsed >= Version("0.1.0"), version
    assert wheel.name.startswith(f"tap_pocket-{version}-")
    tags = git_tags("--points-at", "HEAD")
    if not tags:  # not on a release tag: a development version, with the commit
        assert parsed.is_devrelease, version
        assert parsed.local is not None, version
        assert parsed.local.startswith("g"), version
    released = [Version(tag.removeprefix("v")) for tag in git_tags("--merged", "HEAD")]
    if released:  # hatch-vcs counts from the newest release tag this commit descends from
        assert parsed >= max(released), version
    with zipfile.ZipFile(wheel) as archive:
        assert "tap_pocket/py.typed" in archive.namelist()


def imported_distributions() -> dict[str, str]:
    """Each third-party top-level module tap_pocket imports -> a file importing it."""
    imported: dict[str, str] = {}
    for source in sorted((ROOT / "tap_pocket").rglob("*.py")):
        tree = ast.parse(source.read_text(encoding="utf-8"), filename=str(source))
        # What a newer Python's standard library has (`if sys.version_info >= ...:` then
        # branch, such as compression.zstd from 3.14) is no distribution's.
        newer_stdlib = {
            id(inner)
            for node in ast.walk(tree)
            if isinstance(node, ast.If) and "sys.version_info >=" in ast.unparse(node.test)
            for statement in node.body
            for inner in ast.walk(statement)
        }
        for node in ast.walk(tree):
            if id(node) in newer_stdlib:
                continue
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                imported.setdefault(name.split(".", 1)[0], str(source.relative_to(ROOT)))
    local = {"tap_pocket", "__future__"}
    return {m: f for m, f in imported.items() if m not in sys.stdlib_module_names | local}


def test_every_imported_package_is_declared(wheel: Path) -> None:
    requirements = [
        Requirement(line)
        for line in wheel_metadata(wheel).get_all("Requires-Dist") or []
        if "extra ==" not in line
    ]
    declared = {canonicalize_name(r.name) for r in requirements}
    # A requirement for older Pythons only (backports.zstd before 3.14) is not installed on
    # this one if it is newer: its name says which top-level module it provides.
    not_here = [r.name for r in requirements if r.marker and not r.marker.evaluate()]
    distributions = importlib.metadata.packages_distributions()
    imported = imported_distributions()
    for module in imported:
        # Python 3.10's packages_distributions() misses distributions without top_level.txt
        # (python-backoff): find the one whose files hold the module.
        if module not in distributions:
            distributions[module] = [
                dist.metadata["Name"]
                for dist in importlib.metadata.distributions()
                if any(str(f).split("/")[0] in {module, f"{module}.py"} for f in dist.files or [])
            ] or [name for name in not_here if name.split(".")[0] == module]
    assert {"singer_sdk", "click", "backoff", "msgspec"} <= set(imported)
    undeclared = {
        module: (where, distributions.get(module))
        for module, where in imported.items()
        if not {canonicalize_name(d) for d in distributions.get(module, [module])} & declared
    }
    assert undeclared == {}, "imported by tap_pocket but not in [project] dependencies"


def test_changelog_links_match_its_headings() -> None:
    """CHANGELOG's footer has one link per heading, in Keep a Changelog's form.

    Unreleased compares from the newest version, each version from the one before it, and
    the first version links to its release tag.
    """
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    headings = re.findall(r"^## \[([^\]]+)\]", text, re.MULTILINE)
    links = dict(re.findall(r"^\[([^\]]+)\]: (\S+)$", text, re.MULTILINE))
    assert headings[0] == "Unreleased"
    versions = headings[1:]
    assert versions, "no released version"
    assert [Version(v) for v in versions] == sorted((Version(v) for v in versions), reverse=True)
    base = "https://github.com/tap-pocket/tap-pocket"
    expected = {"Unreleased": f"{base}/compare/v{versions[0]}...HEAD"}
    for older, newer in itertools.pairwise(reversed(versions)):
        expected[newer] = f"{base}/compare/v{older}...v{newer}"
    expected[versions[-1]] = f"{base}/releases/tag/v{versions[-1]}"
    footer = {k: v for k, v in links.items() if k == "Unreleased" or re.match(r"\d", k)}
    assert footer == expected
    for version in versions:
        heading = rf"^## \[{re.escape(version)}\] - \d{{4}}-\d{{2}}-\d{{2}}$"
        assert re.search(heading, text, re.MULTILINE), version
    # The links resolve once each version's tag exists; where this clone has tags, they must.
    tags = git_tags()
    if tags:
        assert {f"v{v}" for v in versions} <= set(tags)


@pytest.fixture(scope="module")
def clean_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("venv") / "v"
    subprocess.run([uv(), "venv", "-q", "--python", sys.executable, str(venv)], check=True)
    result = subprocess.run(
        [uv(), "pip", "install", "-q", "--python", str(venv / "bin" / "python"), str(wheel)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        unavailable(f"could not install the wheel's dependencies: {result.stderr[-500:]}")
    return venv


def test_parquet_and_faker_are_extras(wheel: Path) -> None:
    """The default install leaves out pyarrow (170 MB) and Faker: each is an extra."""
    metadata = wheel_metadata(wheel)
    requirements = [Requirement(line) for line in metadata.get_all("Requires-Dist") or []]
    default = [r for r in requirements if r.marker is None or "extra" not in str(r.marker)]
    (sdk,) = [r for r in default if r.name == "singer-sdk"]
    assert sdk.extras == {"msgspec"}
    assert not {"pyarrow", "faker"} & {canonicalize_name(r.name) for r in default}
    assert set(metadata.get_all("Provides-Extra") or []) == {"parquet", "faker"}
    optional = [r for r in requirements if r.marker and "extra" in str(r.marker)]
    for extra in ("parquet", "faker"):
        (needed,) = [r for r in optional if r.marker and r.marker.evaluate({"extra": extra})]
        assert (needed.name, needed.extras) == ("singer-sdk", {extra})


def installed(venv: Path, module: str) -> bool:
    """Whether ``module`` can be imported in ``venv``."""
    check = f"import importlib.util, sys; sys.exit(importlib.util.find_spec({module!r}) is None)"
    return subprocess.run([str(venv / "bin" / "python"), "-c", check], check=False).returncode == 0


@pytest.mark.parametrize(
    ("settings", "what", "extra"),
    [
        (
            {"batch_config": {"encoding": {"format": "parquet", "compression": "gzip"}}},
            "batch_config.encoding.format parquet",
            "parquet",
        ),
        ({"stream_maps": {"items": {"title": "fake.name()"}}}, "stream_maps using `fake`", "faker"),
        ({"faker_config": {"seed": 1}}, "faker_config", "faker"),
    ],
    ids=["parquet", "fake", "faker_config"],
)
def test_the_default_install_names_the_extra_a_setting_needs(
    clean_venv: Path, tmp_path: Path, settings: dict[str, t.Any], what: str, extra: str
) -> None:
    message = f"{what} needs the {extra} extra, which is not installed: "
    message += f"pip install 'tap-pocket[{extra}]'"
    assert not installed(clean_venv, "pyarrow")
    assert not installed(clean_venv, "faker")
    export = ROOT / "tests" / "fixtures" / "export" / "wallabag_pocket_export_2025.csv"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAP_POCKET_")}

    def run_tap(config: dict[str, t.Any]) -> subprocess.CompletedProcess[str]:
        config_file = tmp_path / "config.json"
        config_file.write_text(json.dumps(config))
        return subprocess.run(
            [str(clean_venv / "bin" / "tap-pocket"), "--config", str(config_file)],
            capture_output=True,
            text=True,
            check=False,
            env=env,
            timeout=120,
        )

    result = run_tap({"export_path": str(export), **settings})
    assert result.returncode == 1
    assert result.stdout == ""
    assert [line for line in result.stderr.splitlines() if message in line]
    assert "Traceback" not in result.stderr
    # Without the setting, the same install runs.
    plain = run_tap({"export_path": str(export)})
    assert plain.returncode == 0, plain.stderr[-2000:]
    assert parse_messages(plain.stdout).records["items"]


def test_installed_wheel_runs_about_and_a_sync(
    clean_venv: Path, wheel: Path, tmp_path: Path
) -> None:
    executable = clean_venv / "bin" / "tap-pocket"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAP_POCKET_")}
    about = subprocess.run(
        [str(executable), "--about", "--format=json"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    info = json.loads(about.stdout)
    assert info["name"] == "tap-pocket"
    assert info["version"] == wheel_metadata(wheel)["Version"]  # the git-derived version
    assert "export_path" in info["settings"]["properties"]

    account = generate_account(50, seed=11, clock=FakeClock())
    with PocketEmulator(account) as emulator:
        config = tmp_path / "config.json"
        config.write_text(
            json.dumps(
                {
                    "consumer_key": emulator.consumer_key,
                    "access_token": emulator.access_token,
                    "api_url": emulator.url,
                }
            )
        )
        sync = subprocess.run(
            [str(executable), "--config", str(config)],
            capture_output=True,
            text=True,
            check=False,
            env=env,
            timeout=120,
        )
    assert sync.returncode == 0, sync.stderr
    ids = parse_messages(sync.stdout).ids()
    assert {raw["item_id"] for raw in account.live_items()} <= set(ids)


@pytest.mark.once
def test_the_pip_of_python_3_11_installs_everything_the_extractor_needs(
    wheel: Path, tmp_path: Path
) -> None:
    """With pip 23.2 (Python 3.11's) the extractor loads.

    That pip drops the ``lxml[html_clean]`` extra that trafilatura's justext asks for; the
    tap declares lxml_html_clean itself. Installs from the package index (pip's own
    cache makes a second run quick).
    """
    found = sorted(Path("/root/.pyenv/versions").glob("3.11.*/bin/python3.11"))
    python = found[0] if found else shutil.which("python3.11")
    if python is None:
        unavailable("Python 3.11 is not installed")
    venv = tmp_path / "venv"
    subprocess.run([str(python), "-m", "venv", str(venv)], check=True)
    pip = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "--version"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert pip.startswith("pip 23."), pip  # the pip that ships with Python 3.11
    subprocess.run(
        # No bytecode: what is checked is what pip installs, not its compiling (4 s of 19).
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-compile", str(wheel)],
        check=True,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    checked = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "from tap_pocket.pages.extract import check_dependencies as c; print(c())",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    assert checked.stdout.strip() == "None", checked.stdout
