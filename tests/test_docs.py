"""What the docs (README.md, docs/*.md), CI and the Hub definition say matches the tap."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from hub import generate as hub
from scripts.update_readme_settings import settings_table, with_settings
from tests import doc_pages

ROOT = doc_pages.ROOT


def test_readme_settings_table_is_current() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert with_settings(readme, settings_table()) == readme, (
        "README settings are stale: run `scripts/uv run python scripts/update_readme_settings.py`"
    )


def test_ci_runs_the_test_command_the_readme_gives() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    (command,) = re.findall(r"^(scripts/test)\s+# the whole test suite", readme, re.MULTILINE)
    # .ci/run runs it, then the other Pythons, each whatever the one before did.
    ci_lines = [
        line.split("#")[0].strip()
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip().startswith("scripts/test")
    ]
    assert ci_lines == [f"{command} || status=1", f"{command} --other-pythons || status=1"]
    runner = (ROOT / "scripts" / "test").read_text()
    assert "exec scripts/uv run --locked pytest" in runner


def test_hub_definition_is_generated_from_about() -> None:
    info = hub.about()
    committed = (ROOT / "hub" / "tap-pocket.yml").read_text(encoding="utf-8")
    assert committed == hub.render(info), "run `scripts/uv run python hub/generate.py`"


def test_hub_settings_and_capabilities_equal_about() -> None:
    info = hub.about()
    definition = yaml.safe_load((ROOT / "hub" / "tap-pocket.yml").read_text(encoding="utf-8"))
    assert sorted(definition["capabilities"]) == sorted(info["capabilities"])
    settings = {s["name"]: s for s in definition["settings"]}
    properties = info["settings"]["properties"]
    for name, schema in properties.items():
        if schema.get("properties"):
            continue  # nested objects are listed by their dotted leaves
        setting = settings[name]
        assert setting["description"] == schema.get("description", "")
        assert setting.get("sensitive", False) == bool(schema.get("secret")), name
        assert setting["kind"] == hub.setting_kind(schema)
        assert setting.get("value") == schema.get("default"), name
    assert settings["consumer_key"]["kind"] == settings["access_token"]["kind"] == "password"
    assert settings["page_size"]["kind"] == "integer"
    assert settings["state"]["kind"] == "options"
    assert settings["start_date"]["kind"] == "date_iso8601"
    for required in (
        "name",
        "namespace",
        "variant",
        "label",
        "description",
        "logo_url",
        "domain_url",
        "pip_url",
        "repo",
        "executable",
        "keywords",
        "maintenance_status",
        "settings_group_validation",
    ):
        assert definition[required], required
    assert "meltano_sdk" in definition["keywords"]
    group_settings = {name for group in definition["settings_group_validation"] for name in group}
    assert group_settings <= set(settings)


# Every shell command of the docs, and what runs it -----------------------------------------

E2E = "tests/e2e/"
#: The docs' "With Meltano" session, run as written in a fresh project (tests/e2e).
FRESH_PROJECT = f"{E2E}test_fresh_project.py::test_readme_meltano_session_in_a_fresh_project"
FROM_THE_HUB = f"{E2E}test_fresh_project.py::test_adding_tap_pocket_from_meltano_hub"
#: Each command the docs give, README.md and every page of docs/ (fenced ``bash`` blocks, line
#: by line without comments, and inline code that starts with a command), and the test that
#: runs it, or why none does. A command of the docs missing here, or an entry no page has any
#: more, fails test_every_documented_command_is_listed: a command cannot change without this
#: list.
DOCS_COMMANDS: dict[str, str] = {
    # Install
    "pip install tap-pocket": "not run: needs the release on PyPI",
    "tap-pocket --about": "tests/test_docs.py::test_readme_tap_commands_run",
    "pip install .": "tests/test_packaging.py::test_installed_wheel_runs_about_and_a_sync",
    "scripts/uv sync": "not run: what scripts/test and .ci/run do first",
    "uv tool install": "not run: a uv command quoted in prose",
    "uv tool install tap-pocket": (
        "not run: needs the release on PyPI (bench/install_size.py installs the built wheel so)"
    ),
    # The extras: the default install's error names each command; the dev group installs
    # both extras from the clone, so the tests of Parquet BATCH files and `fake` run with them.
    "pip install 'tap-pocket[parquet,faker]'": "not run: needs the release on PyPI",
    "pip install 'tap-pocket[parquet]'": (
        "tests/test_packaging.py::test_the_default_install_names_the_extra_a_setting_needs"
    ),
    "pip install 'tap-pocket[faker]'": (
        "tests/test_packaging.py::test_the_default_install_names_the_extra_a_setting_needs"
    ),
    "scripts/uv run python bench/install_size.py": "not run: the install-size benchmark",
    "scripts/uv run python bench/install_size.py --extras parquet,faker": (
        "not run: the install-size benchmark"
    ),
    "scripts/uv run python bench/install_size.py --spec tap-github": (
        "not run: the install-size benchmark, of another tool"
    ),
    # CI and releases, in the development page
    "scripts/lint-workflows": "tests/test_ci.py::test_the_workflows_pass_actionlint_and_zizmor",
    "scripts/uv run python scripts/release_notes.py v0.1.0": (
        "tests/test_ci.py::test_release_notes_of_this_changelog"
    ),
    "git tag v0.2.0 && git push origin v0.2.0": "not run: publishes a release",
    "scripts/uv run tap-pocket --about": (
        "not run: tap-pocket --about (run above) in uv's environment, which CI builds"
    ),
    # Quickstart
    "git clone https://github.com/tap-pocket/tap-pocket && cd tap-pocket": (
        "not run: needs the published repository"
    ),
    "scripts/quickstart": f"{E2E}test_demo.py::test_quickstart_script",
    "scripts/test": "tests/test_docs.py::test_ci_runs_the_test_command_the_readme_gives",
    "scripts/query demo/queries/duckdb/links_per_tag.sql": (
        f"{E2E}test_demo.py::test_demo_environment_loads_the_demo"
    ),
    "scripts/query \"SELECT given_title, given_url FROM items WHERE status = 'unread' LIMIT 5\"": (
        f"{E2E}test_demo.py::test_quickstart_script"
    ),
    "scripts/uv run --group meltano meltano --environment=demo run tap-pocket target-duckdb": (
        f"{E2E}test_demo.py::test_demo_environment_loads_the_demo"
    ),
    "scripts/uv run --group meltano meltano run tap-pocket target-duckdb": (
        f"{E2E}test_meltano_cli.py::test_own_export_never_lands_in_the_demo"
    ),
    "scripts/quickstart target-postgres": f"{E2E}test_loaders.py::test_postgres",
    "scripts/quickstart target-elasticsearch": f"{E2E}test_loaders.py::test_elasticsearch",
    # docs/development.md, docs/performance.md
    "scripts/test --checks": "not run: an option of scripts/test, which CI runs whole",
    "scripts/test --other-pythons": (
        "tests/test_docs.py::test_ci_runs_the_test_command_the_readme_gives"
    ),
    "scripts/uv run python bench/timings.py": "not run: a benchmark (wall-clock bounds)",
    "scripts/test -k export": "not run: an option of scripts/test, which CI runs whole",
    "scripts/uv tool run pre-commit install": "not run: installs a git hook from PyPI",
    "scripts/uv python find": "not run: a uv command quoted in prose (scripts/pythons.py runs it)",
    "scripts/uv run --locked pytest": (
        "tests/test_docs.py::test_ci_runs_the_test_command_the_readme_gives"
    ),
    "scripts/uv run python -m pocket_emulator --items 500 --port 8787": (
        "not run: a long-running server; the tests start the same emulator in-process"
    ),
    "scripts/uv run python bench/run.py": "not run: the benchmark, about 10 minutes",
    "scripts/uv run python bench/pages.py": "not run: the pages benchmark, about 5 minutes",
    "scripts/uv run python bench/run.py --quick": "not run: the benchmark's smoke run",
    "scripts/uv run --group e2e python bench/run.py": "not run: the benchmark, about 10 minutes",
    "scripts/uv run ruff format .": "not run: CI runs ruff format --check",
    "meltano run --dry-run": "not run: a Meltano option quoted in prose",
    "meltano run tap-pocket target-duckdb": (
        f"{E2E}test_meltano_cli.py::test_own_export_never_lands_in_the_demo"
    ),
    "python -X importtime": "not run: a Python profiling flag quoted in prose",
    "scripts/uv run --group e2e --group bench python bench/end_to_end.py": (
        "not run: the end-to-end benchmark, minutes"
    ),
    # On its own
    'echo \'{"export_path": "~/Downloads/pocket.zip"}\' > config.json': (
        "tests/test_docs.py::test_readme_tap_commands_run"
    ),
    "tap-pocket --config config.json > pocket.singer": (
        "tests/test_docs.py::test_readme_tap_commands_run"
    ),
    "tap-pocket --config config.json --discover > catalog.json": (
        "tests/test_docs.py::test_readme_tap_commands_run"
    ),
    "tap-pocket --config config.json --state state.json": (
        "tests/test_docs.py::test_readme_tap_commands_run"
    ),
    "tap-pocket --config config.json --catalog catalog.json": (
        "tests/test_pages.py::test_cli_progress_and_summary"
    ),
    "tap-pocket --about --format=markdown": "tests/test_docs.py::test_readme_tap_commands_run",
    # With Meltano
    # With Meltano: the fresh-project session, run as written
    "(cd ~/tap-pocket && scripts/uv build --wheel)": FRESH_PROJECT,
    "export UV_FIND_LINKS=~/tap-pocket/dist": FRESH_PROJECT,
    "meltano init pocket-project && cd pocket-project": FRESH_PROJECT,
    "meltano add --plugin-type extractor tap-pocket "
    "--from-ref ~/tap-pocket/hub/tap-pocket.yml": FRESH_PROJECT,
    "meltano config list tap-pocket": FRESH_PROJECT,
    "meltano add --plugin-type loader target-jsonl": FRESH_PROJECT,
    "meltano run tap-pocket target-jsonl": FRESH_PROJECT,
    "meltano add --plugin-type extractor tap-pocket": FROM_THE_HUB,
    "meltano add --plugin-type extractor tap-pocket --variant tap-pocket": FROM_THE_HUB,
    "meltano config list": "not run: the name of the command form above",
    "meltano install": "not run: named in prose (the fresh-project session installs)",
    "meltano add --from-ref": "not run: a reference to the command above",
    "meltano select tap-pocket items '*'": FRESH_PROJECT,
    "meltano select tap-pocket highlights '*'": FRESH_PROJECT,
    "meltano config set tap-pocket export_path ~/Downloads/pocket.zip": FRESH_PROJECT,
    "meltano run tap-pocket target-postgres": f"{E2E}test_loaders.py::test_postgres",
    "meltano config set tap-pocket stream_maps "
    '\'{"items": {"__filter__": "status == \\"unread\\""}}\'': (FRESH_PROJECT),
    'TAP_POCKET_STREAM_MAPS=\'{"items": {"host": "given_url.split(\\"/\\")[2]"}}\' '
    "meltano run tap-pocket target-jsonl": (FRESH_PROJECT),
    "meltano invoke tap-pocket:auth --write-env .env": (
        f"{E2E}test_meltano_cli.py::test_meltano_invoke_auth"
    ),
    "meltano config set": "not run: the name of the command form above",
    "meltano run": "not run: the name of the command form above",
    # Getting credentials
    "tap-pocket auth --consumer-key 1234-abcd1234abcd1234abcd1234 --write-env .env": (
        "tests/test_auth.py::test_auth_writes_a_private_env_file_keeping_other_lines"
    ),
    "tap-pocket auth": "tests/test_auth.py::test_auth_flow_end_to_end_then_sync_with_the_token",
    "tap-pocket auth --write-env .env": (
        "tests/test_auth.py::test_auth_writes_a_private_env_file_keeping_other_lines"
    ),
}


def documented_commands() -> dict[str, list[str]]:
    """Each command of the docs, with the pages that give it."""
    found: dict[str, list[str]] = {}
    for page in doc_pages.pages():
        for command in doc_pages.commands(doc_pages.text(page)):
            found.setdefault(command, []).append(str(page.relative_to(ROOT)))
    return found


def test_every_documented_command_is_listed() -> None:
    found = documented_commands()
    known = set(DOCS_COMMANDS)
    unlisted = {command: found[command] for command in sorted(set(found) - known)}
    # Pages others own may add commands: each must be listed, with its test.
    assert not unlisted, (
        f"commands of the docs no test runs or lists: {unlisted}; add each to DOCS_COMMANDS "
        "in tests/test_docs.py with the test that runs it (or why none does)"
    )
    assert not known - set(found), f"listed commands no page has: {sorted(known - set(found))}"


def test_listed_tests_exist() -> None:
    for command, proof in DOCS_COMMANDS.items():
        if proof.startswith("not run: "):
            assert len(proof) > len("not run: "), command
            continue
        path, name = proof.split("::")
        source = (ROOT / path).read_text(encoding="utf-8")
        assert f"def {name}(" in source, (command, proof)


def test_readme_tap_commands_run(tmp_path: Path) -> None:
    """The "On its own" block of the docs, pasted line by line, and the --about commands."""
    import json
    import os
    import shutil
    import subprocess
    import sys

    (block,) = [b for b in doc_pages.fenced("bash") if "config.json" in b]
    home = tmp_path / "home"
    (home / "Downloads").mkdir(parents=True)
    shutil.copy(ROOT / "demo" / "pocket.zip", home / "Downloads" / "pocket.zip")
    bin_dir = str(Path(sys.executable).parent)  # where `tap-pocket` is installed
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAP_POCKET_")}
    env.update(HOME=str(home), PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}")

    def bash(command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [shutil.which("bash") or "/bin/bash", "-euo", "pipefail", "-c", command],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    lines = [line for line in block.splitlines() if line.strip()]
    for line in lines:
        if "--state state.json" in line:
            # The state a user keeps: the last STATE message of the previous run.
            states = [
                json.loads(message)["value"]
                for message in (tmp_path / "pocket.singer").read_text().splitlines()
                if '"type":"STATE"' in message.replace(" ", "")
            ]
            (tmp_path / "state.json").write_text(json.dumps(states[-1]))
        result = bash(line)
        assert result.returncode == 0, (line, result.stderr[-2000:])
    records = [
        json.loads(message)
        for message in (tmp_path / "pocket.singer").read_text().splitlines()
        if '"RECORD"' in message
    ]
    assert sum(1 for r in records if r["stream"] == "items") == 30  # the demo export
    catalog = json.loads((tmp_path / "catalog.json").read_text())
    assert {entry["tap_stream_id"] for entry in catalog["streams"]} >= {"items", "highlights"}
    for command in ("tap-pocket --about", "tap-pocket --about --format=markdown"):
        assert command in documented_commands()
        result = bash(command)
        assert result.returncode == 0, result.stderr
        assert "tap-pocket" in result.stdout


# What else the docs show: SQL, YAML, links, the shape of each page --------------------------


def test_every_sql_block_is_run_by_a_test() -> None:
    """Each SQL block of the docs is run by an end-to-end test, and they show every query.

    A block is a query of demo/queries/ (run by tests/e2e/test_demo.py on DuckDB and
    PostgreSQL) or one of the pages queries (run by tests/e2e/test_pages.py), and each query of
    demo/queries/ is shown: the docs and the files the tests run cannot drift apart.
    """
    demo = {
        path.relative_to(ROOT).as_posix(): re.sub(r"\A(--[^\n]*\n)+", "", path.read_text())
        for path in sorted((ROOT / "demo" / "queries").glob("*/*.sql"))
    }
    pages_queries = doc_pages.pages_queries()
    assert len(pages_queries) == 2, pages_queries
    shown = doc_pages.fenced("sql")
    assert [q for q in shown if q not in set(demo.values()) | set(pages_queries)] == []
    assert [path for path, query in demo.items() if query not in shown] == []


def test_yaml_blocks_are_yaml() -> None:
    blocks = doc_pages.fenced("yaml")
    assert blocks
    for block in blocks:
        assert isinstance(yaml.safe_load(block), dict), block


def test_docs_pages_have_a_title_an_intro_and_a_way_back() -> None:
    readme = doc_pages.text(doc_pages.README)
    docs = doc_pages.pages()[1:]
    assert docs, "docs/ has no page"
    for page in docs:
        markdown = doc_pages.text(page)
        title, blank, intro = markdown.split("\n", 3)[:3]
        assert title.startswith("# "), (page.name, "starts with its title")
        assert blank == "", page.name
        assert intro, (page.name, "has an introduction under its title")
        assert not intro.startswith(("#", "```", "|", "- ")), (page.name, intro)
        paragraph = markdown.split("\n\n")[1]
        assert "../README.md" in doc_pages.links(paragraph), (page.name, "links back to README")
        # README is the way in: it links to every page.
        assert f"{doc_pages.BLOB_URL}docs/{page.name}" in doc_pages.links(readme), page.name


def _resolves(target: Path, fragment: str, what: str) -> None:
    assert target.exists(), f"{what}: no file {target.relative_to(ROOT)}"
    if fragment and target.suffix == ".md":
        assert fragment in doc_pages.anchors(doc_pages.text(target)), (
            f"{what}: {target.relative_to(ROOT)} has no heading #{fragment}"
        )


def test_readme_links_are_absolute_and_resolve() -> None:
    """README is rendered alone on PyPI: a relative link there goes nowhere."""
    links = doc_pages.links(doc_pages.text(doc_pages.README))
    assert links
    relative = [link for link in links if not link.startswith("https://")]
    assert not relative, f"README links must be absolute ({doc_pages.BLOB_URL}...): {relative}"
    for link in links:
        if link.startswith(doc_pages.BLOB_URL):
            path, _, fragment = link.removeprefix(doc_pages.BLOB_URL).partition("#")
            _resolves(ROOT / path, fragment, f"README link {link}")


def test_docs_links_are_relative_and_resolve() -> None:
    for page in doc_pages.pages()[1:]:
        for link in doc_pages.links(doc_pages.text(page)):
            what = f"docs/{page.name} link {link}"
            assert not link.startswith(doc_pages.BLOB_URL), f"{what}: make it relative"
            if re.match(r"^[a-z]+:", link):
                continue  # another site
            path, _, fragment = link.partition("#")
            _resolves((page.parent / path).resolve() if path else page, fragment, what)


def test_link_checker_sees_a_broken_link() -> None:
    """The checks above can fail: a missing file and a missing heading are both caught."""
    page = ROOT / "docs" / "api.md"
    assert "getting-credentials" in doc_pages.anchors(doc_pages.text(page))
    assert doc_pages.links("see [x](a.md#b) and `[y](c.md)`\n\n```\n[z](d.md)\n```\n") == ["a.md#b"]
    with pytest.raises(AssertionError, match="no heading #no-such-heading"):
        _resolves(page, "no-such-heading", "probe")
    with pytest.raises(AssertionError, match=r"no file docs/no-such-page\.md"):
        _resolves(ROOT / "docs" / "no-such-page.md", "", "probe")


#: uv commands the docs may give bare: installing the released package with a uv of one's
#: own, beside pip and pipx (README, Install), not a command of this repository.
UV_OF_ONES_OWN = {"uv tool install", "uv tool install tap-pocket"}


def test_no_command_needs_uv_on_the_path() -> None:
    """A fresh machine has no `uv`: the docs run it as scripts/uv, which installs it first."""
    bare = [
        command
        for command in set(documented_commands()) - UV_OF_ONES_OWN
        if re.search(r"(^|[;&|(]\s*|\s)uv\s+(run|sync|tool|python|build|pip)\b", command)
    ]
    assert not bare, f"commands that need `uv` on PATH (use scripts/uv): {bare}"
