"""Refresh the tap-pocket extractor of meltano.yml from the tap's own ``--about`` output.

The ``capabilities``, ``settings_group_validation``, ``settings`` and ``commands`` of the
extractor are rewritten from ``tap-pocket --about``, in the form Meltano 4 itself writes
(``meltano config set`` rewrites the file it edits: a setting's keys in Meltano's order,
``kind: string`` with ``sensitive: true`` for secrets, never the deprecated
``kind: password``), so that a ``meltano config set`` leaves the plugin definitions as
they are. The SDK's built-in settings get the kinds Meltano Hub gives SDK taps:
``stream_maps`` and ``stream_map_config`` are objects, ``faker_config.locale`` an array,
so that ``meltano config set tap-pocket stream_maps '{...}'`` and
``TAP_POCKET_STREAM_MAPS='{...}'`` both reach the tap as objects. Everything else in
meltano.yml (the loaders, environments, comments) is kept as it is.

    scripts/uv run --group meltano python scripts/sync_meltano_yml.py          # rewrite
    scripts/uv run --group meltano python scripts/sync_meltano_yml.py --check  # exit 1 if stale

``tests/e2e/test_meltano_project.py`` fails when meltano.yml is stale.
"""

from __future__ import annotations

import io
import sys
import typing as t
from pathlib import Path

from hub.generate import about, plain_number_error

ROOT = Path(__file__).resolve().parent.parent
MELTANO_YML = ROOT / "meltano.yml"
SYNCED_KEYS = ("capabilities", "settings_group_validation", "settings", "commands")

#: Which settings group is enough: the API's credentials, or an export.
SETTINGS_GROUPS = [["consumer_key", "access_token"], ["export_path"]]
#: `meltano invoke tap-pocket:auth --no-browser ...` runs `tap-pocket auth --no-browser ...`.
COMMANDS = {
    "auth": {
        "args": "auth",
        "description": "Get a Pocket access token through Pocket's OAuth flow "
        "(`--write-env .env` saves it; `--help` lists the options).",
    }
}
#: Settings that are objects as a whole (their keys are the user's: stream names, ...).
WHOLE_OBJECTS = {"stream_maps", "stream_map_config"}
#: A setting's keys in the order Meltano writes them (its SettingDefinition's fields).
KEY_ORDER = ("name", "kind", "value", "label", "description", "options", "sensitive")
#: Option labels that `str.title()` would spell wrongly.
OPTION_LABELS = {"jsonl": "JSON Lines", "gzip": "gzip", "none": "None", "parquet": "Parquet"}


def _types(schema: dict[str, t.Any]) -> set[str]:
    types: set[str] = set()
    declared = schema.get("type", [])
    types.update([declared] if isinstance(declared, str) else declared)
    for member in schema.get("oneOf", []) + schema.get("anyOf", []):
        if isinstance(member, dict):
            types |= _types(member)
    return types - {"null"}


def setting_kind(name: str, schema: dict[str, t.Any]) -> str:
    """The Meltano setting kind of one JSON-schema property."""
    types = _types(schema)
    if name in WHOLE_OBJECTS or types == {"object"}:
        return "object"
    if schema.get("enum"):
        return "options"
    if schema.get("format") in {"date-time", "date"}:
        return "date_iso8601"
    if "array" in types:
        return "array"
    if len(types) > 1:  # e.g. faker_config.seed: a number, string or boolean
        return "string"
    if types == {"number"}:
        raise plain_number_error(name)
    return {"boolean": "boolean", "integer": "integer"}.get(next(iter(types), "string"), "string")


def meltano_settings(properties: dict[str, t.Any], prefix: str = "") -> list[dict[str, t.Any]]:
    """The settings schema as Meltano settings (nested objects as dotted leaves)."""
    settings: list[dict[str, t.Any]] = []
    for name, schema in properties.items():
        full_name = f"{prefix}{name}"
        if full_name not in WHOLE_OBJECTS and schema.get("properties"):
            settings += meltano_settings(schema["properties"], prefix=f"{full_name}.")
            continue
        setting: dict[str, t.Any] = {
            "name": full_name,
            "kind": setting_kind(full_name, schema),
            "label": str(schema.get("title") or full_name.replace("_", " ").capitalize()),
            "description": schema.get("description", ""),
        }
        if "default" in schema:
            setting["value"] = schema["default"]
        if setting["kind"] == "options":
            setting["options"] = [
                {"label": OPTION_LABELS.get(str(value), str(value).title()), "value": value}
                for value in schema["enum"]
            ]
        if schema.get("secret"):
            setting["sensitive"] = True
        settings.append({key: setting[key] for key in KEY_ORDER if key in setting})
    return settings


def extractor_definition(about_info: dict[str, t.Any]) -> dict[str, t.Any]:
    """The synced keys of the tap-pocket extractor, from its ``--about`` output."""
    return {
        "capabilities": sorted(about_info["capabilities"]),
        "settings_group_validation": SETTINGS_GROUPS,
        "settings": meltano_settings(about_info["settings"]["properties"]),
        "commands": COMMANDS,
    }


def synced_text(text: str, generated: dict[str, t.Any]) -> str:
    """``text`` (meltano.yml) with the extractor's synced keys from ``generated``."""
    from ruamel.yaml import YAML  # dependency group meltano only

    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=2, offset=0)
    document = yaml.load(text)
    (extractor,) = [p for p in document["plugins"]["extractors"] if p["name"] == "tap-pocket"]
    for key in SYNCED_KEYS:
        extractor[key] = generated[key]
    out = io.StringIO()
    yaml.dump(document, out)
    return out.getvalue()


def main(argv: list[str]) -> int:
    """Rewrite meltano.yml, or with ``--check`` exit 1 if it is stale."""
    current = MELTANO_YML.read_text(encoding="utf-8")
    updated = synced_text(current, extractor_definition(about()))
    if "--check" in argv:
        if updated != current:
            print("meltano.yml is stale: run scripts/sync_meltano_yml.py", file=sys.stderr)
            return 1
        return 0
    MELTANO_YML.write_text(updated, encoding="utf-8")
    print(f"wrote {MELTANO_YML}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
