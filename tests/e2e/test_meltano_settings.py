"""Every setting of the tap, set each way Meltano offers, reaches the tap with its value.

The ways: the plugin's ``config`` in meltano.yml, ``meltano config set``, the environment
(``TAP_POCKET_<NAME>``) and the project's ``.env``. For each, every setting is given a
value unlike its default, as a user writes it; ``meltano invoke --dump=config`` then
shows the config file Meltano hands the tap, which must hold each value with the type the
tap reads, and the tap must accept that file. The settings come from meltano.yml, so a
new setting without a value here fails the test.

Two sets of values, each valid on its own: the API's settings with stream maps and
flattening, and an export with BATCH output (which the tap refuses with stream maps).
"""

from __future__ import annotations

import json
import re
import shutil
import typing as t
from dataclasses import dataclass

import pytest
import yaml

from .conftest import REPO

if t.TYPE_CHECKING:
    from pathlib import Path

    from .conftest import Meltano

pytestmark = pytest.mark.e2e

WAYS = ("meltano.yml", "config set", "environment", ".env")


@dataclass(frozen=True)
class Value:
    """A setting's value as the tap must receive it, and as a user types it."""

    received: t.Any

    @property
    def text(self) -> str:
        """What goes after ``meltano config set tap-pocket NAME`` or ``TAP_POCKET_NAME=``."""
        if isinstance(self.received, str):
            return self.received
        return json.dumps(self.received)

    def matches(self, received: t.Any) -> bool:
        if isinstance(self.received, float):  # a fraction: text or number, the same value
            return isinstance(received, (str, int, float)) and float(received) == self.received
        return bool(received == self.received) and type(received) is type(self.received)


def api_values() -> dict[str, Value]:
    """Every setting but the export's and BATCH's, unlike its default."""
    values: dict[str, t.Any] = {
        "consumer_key": "ck-e2e-0123456789",
        "access_token": "at-e2e-9876543210",
        "api_url": "http://127.0.0.1:8787",
        "start_date": "2024-01-31T00:00:00Z",
        "state": "archive",
        "favorite": True,
        "tag": "python",
        "content_type": "video",
        "search": "rust",
        "domain": "example.com",
        "detail_type": "simple",
        "page_size": 250,
        "request_timeout": 30,
        "max_retries": 2,
        "backoff_factor": 0.5,
        "backoff_max": 9,
        "max_wait": 120,
        "skip_bad_rows": True,
        "fetch_concurrency": 4,
        "fetch_timeout_seconds": 7,
        "fetch_max_bytes": 200_000,
        "fetch_extract_timeout_seconds": 3,
        "fetch_extract_memory_mb": 256,
        "fetch_respect_robots": False,
        "fetch_private_addresses": True,
        "fetch_cache_path": "pages-e2e.sqlite3",
        "fetch_refresh_days": 3,
        "wayback_api_url": "http://127.0.0.1:9/wayback/available",
        "emit_activate_version_messages": True,
        "stream_maps": {"items": {"__filter__": 'status == "unread"'}},
        "stream_map_config": {"suffix": "-e2e"},
        "faker_config.seed": "42",
        "faker_config.locale": ["en_US", "fr_FR"],
        "flattening_enabled": True,
        "flattening_max_depth": 2,
        "flattening_max_key_length": 64,
        "flattening_separator": "__",
    }
    return {name: Value(value) for name, value in values.items()}


def export_values(root: Path) -> dict[str, Value]:
    """An export read into BATCH files: the settings the API values leave out."""
    values = {
        "export_path": str(root / "demo" / "pocket.zip"),
        "batch_config.encoding.format": "jsonl",
        "batch_config.encoding.compression": "gzip",
        "batch_config.storage.root": (root / "batches").as_uri(),
        "batch_config.storage.prefix": "pocket-",
    }
    return {name: Value(value) for name, value in values.items()}


def tap_settings() -> dict[str, dict[str, t.Any]]:
    """The tap's setting definitions in meltano.yml, by name."""
    project = yaml.safe_load((REPO / "meltano.yml").read_text(encoding="utf-8"))
    (tap,) = [p for p in project["plugins"]["extractors"] if p["name"] == "tap-pocket"]
    return {setting["name"]: setting for setting in tap["settings"]}


def env_name(setting: str) -> str:
    return "TAP_POCKET_" + re.sub(r"[^A-Za-z0-9]", "_", setting).upper()


def nested(values: dict[str, Value]) -> dict[str, t.Any]:
    """Dotted setting names as the nested objects of meltano.yml (and of the tap's config)."""
    config: dict[str, t.Any] = {}
    for name, value in values.items():
        *parents, leaf = name.split(".")
        node = config
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = value.received
    return config


def dig(config: dict[str, t.Any], name: str) -> t.Any:
    node: t.Any = config
    for part in name.split("."):
        if not isinstance(node, dict) or part not in node:
            return "<missing>"
        node = node[part]
    return node


def dumped_config(output: str) -> dict[str, t.Any]:
    """The config file that ``meltano invoke --dump=config`` prints, among the log lines."""
    lines = output.splitlines()
    start, end = lines.index("{"), len(lines) - lines[::-1].index("}")
    return dict(json.loads("\n".join(lines[start:end])))


def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    shutil.copy(REPO / "meltano.yml", root / "meltano.yml")
    shutil.copytree(REPO / "demo", root / "demo")
    return root


def set_values(meltano: Meltano, root: Path, way: str, values: dict[str, Value]) -> dict[str, str]:
    """Set ``values`` in the project at ``root`` the given way; the environment to run with."""
    if way in {"meltano.yml", "config set"}:
        # `config set`: every setting typed as a user would, one command each (seconds of
        # Meltano's start-up apiece, yet what it does with a value is per setting).
        typed = list(values) if way == "config set" else []
        path = root / "meltano.yml"
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        (tap,) = [p for p in document["plugins"]["extractors"] if p["name"] == "tap-pocket"]
        tap["config"] = nested({k: v for k, v in values.items() if k not in typed})
        path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
        for name in typed:
            text = values[name].text
            result = meltano("--cwd", str(root), "config", "set", "tap-pocket", name, text)
            assert result.returncode == 0, (name, result.tail())
    elif way == ".env":
        lines = [f"{env_name(name)}='{value.text}'" for name, value in values.items()]
        assert not any(value.text.count("'") for value in values.values())
        (root / ".env").write_text("\n".join(lines) + "\n", encoding="utf-8")
    else:
        return {env_name(name): value.text for name, value in values.items()}
    return {}


@pytest.mark.parametrize("profile", ["api", "export"])
@pytest.mark.parametrize("way", WAYS)
def test_every_setting_reaches_the_tap(
    meltano: Meltano, tmp_path: Path, way: str, profile: str
) -> None:
    root = project(tmp_path)
    api, export = api_values(), export_values(root)
    definitions = tap_settings()
    assert set(api) | set(export) == set(definitions), "a setting without a value here"
    assert not set(api) & set(export)
    assert all(d["kind"] != "decimal" for d in definitions.values()), "Meltano crashes on it"
    values = api if profile == "api" else export
    # The project's own .env (where `config set` stores secrets), never the repository's.
    meltano.env_file = root / ".env"
    meltano.env_file.touch()
    env = set_values(meltano, root, way, values)

    result = meltano("--cwd", str(root), "invoke", "--dump=config", "tap-pocket", **env)
    assert result.returncode == 0, result.tail()
    config = dumped_config(result.output)
    wrong = {
        name: dig(config, name)
        for name, value in values.items()
        if not value.matches(dig(config, name))
    }
    assert not wrong, f"set through {way}, the tap received: {wrong}"

    # The tap accepts the file as Meltano wrote it.
    from tap_pocket.tap import TapPocket

    TapPocket(config=config, parse_env_config=False, validate_config=True)
