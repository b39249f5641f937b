"""The Meltano paths a user takes, through the real ``meltano`` CLI.

``meltano config set`` on the tap's stream maps, and the same map through
``TAP_POCKET_STREAM_MAPS``; ``meltano invoke tap-pocket:auth`` against the emulator's
OAuth; ``meltano config set`` leaving the plugin definitions of meltano.yml as they are;
``.env`` files as README gives them; the demo environment never loading a user's data.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import typing as t

import pytest
import requests
import yaml

from tests import doc_pages

from .conftest import N_ITEMS, REPO, clean_env
from .test_loaders import DuckDBReader

if t.TYPE_CHECKING:
    from pathlib import Path

    from .conftest import Meltano, MeltanoResult, Pocket

pytestmark = pytest.mark.e2e

DEMO_ITEMS = 30
DEMO_UNREAD = 17
DEMO_HIGHLIGHTS = 9
#: The stream maps of README's "With Meltano" (tests/test_docs.py checks they are the same).
UNREAD_ONLY = {"items": {"__filter__": 'status == "unread"'}}
WITH_HOST = {"items": {"host": 'given_url.split("/")[2]'}}


def copy_project(root: Path) -> Path:
    """This repository's Meltano project (meltano.yml and the demo export) in ``root``."""
    root.mkdir(parents=True)
    shutil.copy(REPO / "meltano.yml", root / "meltano.yml")
    shutil.copytree(REPO / "demo", root / "demo")
    return root


def in_project(meltano: Meltano, root: Path, *args: str, **env: str) -> MeltanoResult:
    return meltano("--cwd", str(root), *args, **env)


def plugin_definitions(path: Path) -> dict[str, t.Any]:
    """meltano.yml's plugins, each without the ``config`` a user sets."""
    plugins = yaml.safe_load(path.read_text(encoding="utf-8"))["plugins"]
    return {
        kind: [{k: v for k, v in plugin.items() if k != "config"} for plugin in entries]
        for kind, entries in plugins.items()
    }


def jsonl_rows(folder: Path, stream: str) -> list[dict[str, t.Any]]:
    lines = (folder / f"{stream}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def test_config_set_keeps_the_plugin_definitions(meltano: Meltano, tmp_path: Path) -> None:
    """meltano.yml is in the form Meltano writes: `config set` changes only the config."""
    root = copy_project(tmp_path / "project")
    before = (root / "meltano.yml").read_text(encoding="utf-8")
    for args in (
        ("tap-pocket", "stream_maps", json.dumps(UNREAD_ONLY)),
        ("tap-pocket", "page_size", "500"),
        ("target-postgres", "port", "5433"),
        ("target-elasticsearch", "index_format", "mine-{{ stream_name }}"),
    ):
        result = in_project(meltano, root, "config", "set", *args)
        assert result.returncode == 0, result.tail()
    after = (root / "meltano.yml").read_text(encoding="utf-8")
    assert after != before
    assert plugin_definitions(root / "meltano.yml") == plugin_definitions(REPO / "meltano.yml")
    (tap,) = yaml.safe_load(after)["plugins"]["extractors"]
    assert tap["config"] == {"stream_maps": UNREAD_ONLY, "page_size": 500}  # an object, a number


def test_stream_maps_set_with_meltano_config_set(meltano: Meltano, tmp_path: Path) -> None:
    root = copy_project(tmp_path / "project")
    result = in_project(
        meltano, root, "config", "set", "tap-pocket", "stream_maps", json.dumps(UNREAD_ONLY)
    )
    assert result.returncode == 0, result.tail()
    out = tmp_path / "jsonl"
    result = in_project(
        meltano,
        root,
        "--environment=demo",
        "run",
        "tap-pocket",
        "target-jsonl",
        TARGET_JSONL_DESTINATION_PATH=str(out),
    )
    assert result.returncode == 0, result.tail()
    items = jsonl_rows(out, "items")
    assert len(items) == DEMO_UNREAD
    assert {row["status"] for row in items} == {"unread"}


def test_stream_maps_from_the_environment(meltano: Meltano, tmp_path: Path) -> None:
    out = tmp_path / "jsonl"
    result = meltano.run(
        "tap-pocket",
        "target-jsonl",
        environment="demo",
        TAP_POCKET_STREAM_MAPS=json.dumps(WITH_HOST),
        TARGET_JSONL_DESTINATION_PATH=str(out),
    )
    # An export run is FULL_TABLE: no SDK warning about unsorted streams.
    assert "assumed to be unsorted" not in result.output
    items = jsonl_rows(out, "items")
    assert len(items) == DEMO_ITEMS
    for row in items:
        assert row["host"] == row["given_url"].split("/")[2]


def test_meltano_invoke_auth(meltano: Meltano, pocket: Pocket, tmp_path: Path) -> None:
    """`meltano invoke tap-pocket:auth` runs the whole OAuth flow; the test is the browser."""
    env_file = tmp_path / "auth.env"
    command = [
        str(meltano.executable),
        "--env-file",
        str(meltano.env_file),
        "invoke",
        "tap-pocket:auth",
        "--no-browser",
        "--consumer-key",
        pocket.emulator.consumer_key,
        "--api-url",
        pocket.emulator.url,
        "--timeout",
        "60",
        "--write-env",
        str(env_file),
    ]
    process = subprocess.Popen(
        command,
        cwd=REPO,
        env=clean_env(**meltano.env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen: list[str] = []
    try:
        assert process.stderr is not None
        for line in process.stderr:
            seen.append(line)
            if "/auth/authorize?" in line:
                url = line[line.index("http") :].strip()
                break
        else:
            pytest.fail("no authorize URL printed:\n" + "".join(seen))
        page = requests.get(url, timeout=30)
        assert page.status_code == 200
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, "".join(seen) + stderr
    values = dict(line.split("=", 1) for line in stdout.splitlines() if "=" in line)
    assert values["username"] == pocket.emulator.username
    assert values["access_token"]
    saved = env_file.read_text(encoding="utf-8")
    assert f"TAP_POCKET_ACCESS_TOKEN={values['access_token']}" in saved
    assert pocket.emulator.consumer_key not in stdout + stderr + "".join(seen)

    # The token works: a run with it reads the account.
    out = tmp_path / "jsonl"
    meltano.run(
        "tap-pocket",
        "target-jsonl",
        environment=None,
        TAP_POCKET_API_URL=pocket.emulator.url,
        TAP_POCKET_CONSUMER_KEY=pocket.emulator.consumer_key,
        TAP_POCKET_ACCESS_TOKEN=values["access_token"],
        TARGET_JSONL_DESTINATION_PATH=str(out),
    )
    assert jsonl_rows(out, "items")


def own_export(folder: Path) -> Path:
    """A user's export, unlike the demo: two links."""
    folder.mkdir(parents=True)
    path = folder / "part_000000.csv"
    path.write_text(
        "title,url,time_added,tags,status\n"
        "Mine one,https://mine.example/one,1700000000,,unread\n"
        "Mine two,https://mine.example/two,1700000100,,archive\n",
        encoding="utf-8",
    )
    return path


def urls(database: Path) -> list[str]:
    return sorted(url for (url,) in DuckDBReader(database).query("SELECT given_url FROM items"))


def test_own_export_never_lands_in_the_demo(meltano: Meltano, tmp_path: Path) -> None:
    """README's export .env, pasted as it is, with and without the demo environment."""
    root = copy_project(tmp_path / "project")
    export = own_export(tmp_path / "mine")
    (block,) = [b for b in doc_pages.fenced("dotenv") if "TAP_POCKET_EXPORT_PATH" in b]
    meltano.env_file = root / ".env"
    meltano.env_file.write_text(
        re.sub(r"(?m)^TAP_POCKET_EXPORT_PATH=.*$", f"TAP_POCKET_EXPORT_PATH={export}", block),
        encoding="utf-8",
    )
    # No environment: the user's export, into the user's database.
    result = in_project(meltano, root, "run", "tap-pocket", "target-duckdb")
    assert result.returncode == 0, result.tail()
    mine = urls(root / "pocket.duckdb")
    assert mine == ["https://mine.example/one", "https://mine.example/two"]
    assert not (root / "demo.duckdb").exists()
    # The demo environment, the same .env: the demo export, never the user's.
    result = in_project(meltano, root, "--environment=demo", "run", "tap-pocket", "target-duckdb")
    assert result.returncode == 0, result.tail()
    demo = urls(root / "demo.duckdb")
    assert len(demo) == DEMO_ITEMS
    assert not any("mine.example" in url for url in demo)
    assert urls(root / "pocket.duckdb") == mine


def test_readme_api_dotenv_works_as_pasted(
    meltano: Meltano, pocket: Pocket, tmp_path: Path
) -> None:
    root = copy_project(tmp_path / "project")
    (block,) = [b for b in doc_pages.fenced("dotenv") if "TAP_POCKET_ACCESS_TOKEN" in b]
    values = {
        "TAP_POCKET_CONSUMER_KEY": pocket.emulator.consumer_key,
        "TAP_POCKET_ACCESS_TOKEN": pocket.emulator.access_token,
    }
    for name, value in values.items():
        block = re.sub(rf"(?m)^{name}=.*$", f"{name}={value}", block)
    meltano.env_file = root / ".env"
    meltano.env_file.write_text(block + f"TAP_POCKET_API_URL={pocket.emulator.url}\n")
    result = in_project(meltano, root, "run", "tap-pocket", "target-duckdb")
    assert result.returncode == 0, result.tail()
    assert len(DuckDBReader(root / "pocket.duckdb").items()) == N_ITEMS


def test_parquet_batches_through_meltano(meltano: Meltano, tmp_path: Path) -> None:
    """`batch_config.encoding.format: parquet`, set as Meltano settings, writes the rows."""
    import pyarrow.parquet as pq  # installed with the tap (singer-sdk[parquet])

    root = tmp_path / "batches"
    result = meltano(
        "--environment=demo",
        "--log-level=warning",
        "invoke",
        "tap-pocket",
        TAP_POCKET_BATCH_CONFIG_ENCODING_FORMAT="parquet",
        TAP_POCKET_BATCH_CONFIG_ENCODING_COMPRESSION="gzip",
        TAP_POCKET_BATCH_CONFIG_STORAGE_ROOT=root.as_uri(),
    )
    assert result.returncode == 0, result.tail()
    batches = [event for event in result.events if event.get("type") == "BATCH"]
    rows: dict[str, list[dict[str, t.Any]]] = {}
    for batch in batches:
        assert batch["encoding"]["format"] == "parquet"
        for url in batch["manifest"]:
            assert url.startswith(root.as_uri())
            table = pq.read_table(url.removeprefix("file://"))
            rows.setdefault(batch["stream"], []).extend(table.to_pylist())
    assert len(rows["items"]) == DEMO_ITEMS
    assert len({row["item_id"] for row in rows["items"]}) == DEMO_ITEMS
    assert len(rows["highlights"]) == DEMO_HIGHLIGHTS


def test_config_test_names_what_is_missing(meltano: Meltano, tmp_path: Path) -> None:
    """`meltano config test tap-pocket` with nothing set: one line naming the settings."""
    root = copy_project(tmp_path / "project")
    result = in_project(meltano, root, "config", "test", "tap-pocket")

    assert result.returncode == 1
    assert "Plugin configuration is invalid" in result.output
    lines = result.output.splitlines()
    named = [line for line in lines if "Missing setting(s) consumer_key, access_token" in line]
    assert len(named) == 1, result.tail()
    assert max(len(line) for line in lines) < 1000, "a line holds the settings schema"
