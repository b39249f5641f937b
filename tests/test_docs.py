"""What the README, CI and the Meltano Hub definition say matches what the tap does."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from hub import generate as hub
from scripts.update_readme_settings import settings_table, with_settings

ROOT = Path(__file__).resolve().parent.parent


def test_readme_settings_table_is_current() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert with_settings(readme, settings_table()) == readme, (
        "README settings are stale: run `uv run python scripts/update_readme_settings.py`"
    )


def test_ci_runs_the_test_command_the_readme_gives() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    (command,) = re.findall(r"^(scripts/test)\s+# the whole test suite", readme, re.MULTILINE)
    ci_lines = [
        line.strip()
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert ci_lines[-1] == command
    runner = (ROOT / "scripts" / "test").read_text()
    assert "exec scripts/uv run --locked pytest" in runner


def test_hub_definition_is_generated_from_about() -> None:
    info = hub.about()
    committed = (ROOT / "hub" / "tap-pocket.yml").read_text(encoding="utf-8")
    assert committed == hub.render(info), "run `uv run python hub/generate.py`"


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
