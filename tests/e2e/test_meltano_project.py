"""meltano.yml itself: in step with the tap, fully defined offline, pinned, a working default.

These checks read files only (no Meltano CLI), so they run with the plain test suite too.
"""

from __future__ import annotations

import importlib.util
import json
import re
import typing as t
import zipfile
from pathlib import Path

import pytest
import yaml

from .conftest import LOADERS, REPO

MELTANO_YML = REPO / "meltano.yml"
PINNED = re.compile(r"^[A-Za-z0-9_.\-\[\]]+==[0-9][0-9A-Za-z.\-+]*$")


def project() -> dict[str, t.Any]:
    return yaml.safe_load(MELTANO_YML.read_text(encoding="utf-8"))


def plugins(kind: str) -> dict[str, dict[str, t.Any]]:
    return {plugin["name"]: plugin for plugin in project()["plugins"][kind]}


def test_extractor_matches_the_tap_about_output() -> None:
    from scripts.sync_meltano_yml import about, extractor_definition

    info = about()
    generated = extractor_definition(info)
    tap = plugins("extractors")["tap-pocket"]
    assert sorted(tap["capabilities"]) == sorted(info["capabilities"])
    for key in ("capabilities", "settings_group_validation", "settings", "commands"):
        assert tap[key] == generated[key], (
            f"meltano.yml's tap-pocket {key} is stale: "
            "run `scripts/uv run --group meltano python scripts/sync_meltano_yml.py`"
        )
    properties = info["settings"]["properties"]
    secrets = {name for name, schema in properties.items() if schema.get("secret")}
    assert secrets == {"consumer_key", "access_token"}
    settings = {setting["name"]: setting for setting in tap["settings"]}
    for name in secrets:  # the form Meltano 4 writes, not the deprecated `kind: password`
        assert settings[name]["kind"] == "string"
        assert settings[name]["sensitive"] is True
    # The SDK's settings with the kinds Meltano Hub gives SDK taps: `meltano config set`
    # and TAP_POCKET_STREAM_MAPS='{...}' reach the tap as objects.
    assert settings["stream_maps"]["kind"] == "object"
    assert "stream_maps.__else__" not in settings
    assert settings["stream_map_config"]["kind"] == "object"
    assert settings["faker_config.locale"]["kind"] == "array"
    assert settings["faker_config.seed"]["kind"] == "string"
    assert settings["batch_config.encoding.format"]["kind"] == "options"
    assert tap["commands"] == {
        "auth": {"args": "auth", "description": tap["commands"]["auth"]["description"]}
    }
    assert tap["namespace"] == "tap_pocket"
    assert tap["pip_url"] == "-e .[parquet,faker]"  # every setting works here
    assert tap["executable"] == "tap-pocket"
    assert tap["select"] == ["items.*", "highlights.*"]


def test_valid_against_meltanos_own_schema() -> None:
    """meltano.yml passes the JSON schema shipped in the pinned Meltano package."""
    import jsonschema

    meltano = pytest.importorskip("meltano", reason="dependency group meltano")
    schema_path = Path(next(iter(meltano.__path__))) / "schemas" / "meltano.schema.json"
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    errors = [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in jsonschema.Draft7Validator(schema).iter_errors(project())
    ]
    assert not errors
    for kind in ("extractors", "loaders"):
        for name, plugin in plugins(kind).items():
            for setting in plugin["settings"]:
                assert setting["kind"] != "password", (name, setting["name"])


def test_every_plugin_is_defined_here_and_pinned() -> None:
    """Nothing is looked up on Meltano Hub: no variant-only entries, exact versions."""
    loaders = plugins("loaders")
    assert set(loaders) == set(LOADERS)
    for kind in ("extractors", "loaders"):
        for name, plugin in plugins(kind).items():
            assert "variant" not in plugin, name
            assert "inherit_from" not in plugin, name
            for key in ("namespace", "pip_url", "executable", "settings"):
                assert plugin.get(key), f"{name} lacks {key}"
            if kind == "loaders":
                requirements = plugin["pip_url"].split()
                assert all(PINNED.match(r) for r in requirements), (name, requirements)
            for setting in plugin["settings"]:
                assert setting.get("kind"), (name, setting["name"])


def test_loader_pins() -> None:
    """The versions proven by the end-to-end tests (docs/loaders.md says which)."""
    pip_urls = {name: plugin["pip_url"] for name, plugin in plugins("loaders").items()}
    assert pip_urls == {
        # duckdb >= 1.3 sniffs a header in target-duckdb's header-less CSV and drops the
        # first row of a batch (a one-record batch loads 0 rows): stay on 1.2.
        "target-duckdb": "target-duckdb==0.8.0 duckdb==1.2.2",
        "target-postgres": "meltanolabs-target-postgres==0.8.1",
        "target-jsonl": "target-jsonl==0.1.4",
        "target-elasticsearch": "target-elasticsearch==2.1.0",
    }


def test_elasticsearch_upserts_into_one_index_per_stream() -> None:
    config = plugins("loaders")["target-elasticsearch"]["config"]
    assert "{{ current_timestamp" not in config["index_format"]
    assert config["metadata_fields"] == {
        "items": {"_id": "item_id"},
        "highlights": {"_id": "highlight_id"},
    }
    assert config["add_record_metadata"] is True  # else _sdc_deleted_at is stripped


def test_demo_environment_reads_the_bundled_demo() -> None:
    meltano = project()
    # The default environment adds nothing: a plain `meltano run` reads the user's
    # settings and never writes the demo's destinations.
    assert meltano["default_environment"] == "mine"
    assert meltano["send_anonymous_usage_stats"] is False
    environments = {env["name"]: env for env in meltano["environments"]}
    # One environment for the user's own data (scripts/quickstart and a plain `meltano
    # run` share its state), and the demo apart.
    assert set(environments) == {"demo", "mine"}
    demo = environments["demo"]["config"]["plugins"]
    (tap,) = demo["extractors"]
    assert tap["config"] == {"export_path": "${MELTANO_PROJECT_ROOT}/demo/pocket.zip"}
    # The environment's env outranks .env and the shell: the demo reads only the demo.
    assert environments["demo"]["env"] == {
        "TAP_POCKET_EXPORT_PATH": "${MELTANO_PROJECT_ROOT}/demo/pocket.zip",
        "TAP_POCKET_CONSUMER_KEY": "",
        "TAP_POCKET_ACCESS_TOKEN": "",
    }
    with zipfile.ZipFile(REPO / "demo" / "pocket.zip") as archive:
        assert sorted(archive.namelist()) == ["annotations/part_000000.json", "part_000000.csv"]
    # The demo writes apart from the user's own data, for every loader.
    demo_loaders = {loader["name"]: loader["config"] for loader in demo["loaders"]}
    assert set(demo_loaders) == set(LOADERS)
    base = {name: plugin["config"] for name, plugin in plugins("loaders").items()}
    for name, config in demo_loaders.items():
        for key, value in config.items():
            assert value != base[name][key], (name, key)
    assert base["target-duckdb"]["path"] == "${MELTANO_PROJECT_ROOT}/pocket.duckdb"
    assert demo_loaders["target-duckdb"]["path"] == "${MELTANO_PROJECT_ROOT}/demo.duckdb"
    # mine takes everything from .env / the environment.
    assert set(environments["mine"]) == {"name"}


def test_demo_export_is_reproducible(tmp_path: t.Any) -> None:
    """demo/pocket.zip is exactly what scripts/make_demo_export.py writes."""
    spec = importlib.util.spec_from_file_location(
        "make_demo_export", REPO / "scripts" / "make_demo_export.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.write_zip(tmp_path / "pocket.zip")
    assert (tmp_path / "pocket.zip").read_bytes() == (REPO / "demo" / "pocket.zip").read_bytes()
