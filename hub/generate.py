"""Write the Meltano Hub definition of tap-pocket from the tap's own ``--about`` output.

The Hub entry (``hub/tap-pocket.yml``) must say exactly what the tap reports, so it is
generated, never edited by hand: ``scripts/uv run python hub/generate.py``. A test checks that
the committed file is current, and ``tests/test_hub.py`` runs the Hub's own validators
(copies in ``hub/validation/``) on it.

The rules are those of hub-utils, the tool the Meltano Hub uses to write SDK taps'
definitions, which now lives in the Hub's repository (https://github.com/meltano/hub,
commit 9d28b36, ``hub-utils/hub_utils/meltano_util.py``,
``MeltanoUtil._parse_sdk_about_settings`` and the helpers it calls;
``hub-utils/hub_utils/utilities.py``, ``_boilerplate_definition``; and
``hub-utils/hub_utils/yaml_lint.py`` ``fix_yaml``/``fix_arrays``; before that
https://github.com/meltano/hub-utils at commit 70a447b, the same rules). hub-utils is not
a package we can install (it is not on PyPI), so they are restated here, one function per
rule, each naming the hub-utils function it follows. Where this file departs from
hub-utils it says so and why.
"""

from __future__ import annotations

import json
import subprocess
import sys
import typing as t
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
DEFINITION = HERE / "tap-pocket.yml"

# What the Hub shows that the tap itself cannot know.
HUB_FIELDS: dict[str, t.Any] = {
    # A separate plugin name, not a variant of the Hub's `tap-getpocket`: docs/meltano-hub.md gives
    # the reasons.
    "name": "tap-pocket",
    "namespace": "tap_pocket",
    # hub-utils names the variant after the repository's owner
    # (`_get_plugin_variant`: repo_url.split("/")[-2].lower()).
    "variant": "tap-pocket",
    "label": "Pocket",
    # What the source is, as the Hub's descriptions say it (tap-getpocket's: "Your own
    # private corner of the web..."), and what this tap reads of it.
    "description": (
        "Pocket, the read-it-later service (closed in 2025): saved links with tags, "
        "authors, images and highlights, from Pocket's export files or its v3 API"
    ),
    # The Hub's Pocket logo (static/assets/logos/extractors/getpocket.svg in meltano/hub).
    "logo_url": "/assets/logos/extractors/getpocket.svg",
    "domain_url": "https://getpocket.com/",
    "pip_url": "tap-pocket",
    "repo": "https://github.com/tap-pocket/tap-pocket",
    "executable": "tap-pocket",
    # hub-utils writes "unknown" for a new variant; the Hub's maintainers rate it later
    # (https://docs.meltano.com/contribute/connectors#connector-quality).
    "quality": "unknown",
    # `meltano_sdk` as hub-utils' `_scrape_keywords` writes for SDK taps, then the Hub's
    # category words (`api`, `database`, `file`: what the plugin reads) for the two ways it
    # reads Pocket, then what a user would search for.
    "keywords": ["meltano_sdk", "api", "file", "pocket", "read-it-later", "bookmarks"],
    "settings_preamble": (
        "Set `export_path` to read a Pocket export (`pocket.zip`, an unzipped export folder, "
        "a `part_*.csv`, `ril_export.html` or a saved `/v3/get` response), or "
        "`consumer_key` and `access_token` to read a Pocket v3 API (`meltano invoke "
        "tap-pocket:auth` gets a token).\n"
        "\n"
        "**Selecting the `pages` stream fetches every saved link from the web.** It is "
        "not selected by default (`select` lists `items` and `highlights`); selecting it, "
        "or `*.*`, sends requests to the site of each link you ever saved, which for a "
        "large library takes hours.\n"
        "\n"
        "Parquet BATCH files (`batch_config.encoding.format: parquet`) and `fake` in "
        "stream maps need the extras: `pip_url: tap-pocket[parquet,faker]`.\n"
    ),
    "usage": (
        "Streams: `items` (one row per saved link, with tags, authors, images and videos), "
        "`highlights` (from the export's `annotations/` or the API), and the opt-in "
        "`pages` (the fetched page of each link: title, excerpt, word count, language, "
        "whether the link is alive).\n"
        "\n"
        "To fetch the pages too: `meltano select tap-pocket pages '*'`.\n"
    ),
    # hub-utils derives one group from the schema's `required` (none here: either mode may be
    # used); these are the two ways to run the tap, as settings.py checks them.
    "settings_group_validation": [["consumer_key", "access_token"], ["export_path"]],
}

# The SDK's stream-map settings are free-form objects: one setting of kind object each, as
# hub-utils' `_parse_sdk_about_settings` writes `stream_maps` (not its `__else__` key,
# which `meltano config set` could not fill) and as `stream_map_config` has no properties.
OPAQUE_OBJECTS = frozenset({"stream_maps", "stream_map_config"})

# hub-utils `_parse_kind`: a string setting whose name contains one of these is a password.
PASSWORD_HINTS = ("password", "id", "token", "key", "secret")


def meltano_extractor() -> dict[str, t.Any]:
    """The tap's plugin definition in this repository's meltano.yml."""
    project = yaml.safe_load((HERE.parent / "meltano.yml").read_text(encoding="utf-8"))
    (extractor,) = [p for p in project["plugins"]["extractors"] if p["name"] == "tap-pocket"]
    return dict(extractor)


def meltano_commands() -> dict[str, t.Any]:
    """The tap's ``commands`` in meltano.yml (``meltano invoke tap-pocket:auth``), as they are."""
    return dict(meltano_extractor()["commands"])


def meltano_select() -> list[str]:
    """The tap's default ``select`` in meltano.yml.

    Meltano's own default is ``*.*``, which would select every stream, the opt-in ``pages``
    stream (it fetches every saved link) included; a project added from the Hub starts
    with the same streams as this repository's.
    """
    return list(meltano_extractor()["select"])


def about() -> dict[str, t.Any]:
    """The tap's ``--about`` output (JSON), from a subprocess of this interpreter."""
    output = subprocess.run(
        [sys.executable, "-m", "tap_pocket", "--about", "--format=json"],
        capture_output=True,
        text=True,
        check=True,
        cwd=HERE.parent,
    ).stdout
    return dict(json.loads(output))


#: pyproject's ``Development Status`` classifier -> the Hub's ``maintenance_status``: the
#: Hub shows the variant as beta while the package says it is (no stable release yet).
MAINTENANCE_STATUS = {
    "Development Status :: 3 - Alpha": "development",
    "Development Status :: 4 - Beta": "beta",
    "Development Status :: 5 - Production/Stable": "active",
    "Development Status :: 6 - Mature": "active",
    "Development Status :: 7 - Inactive": "inactive",
}


def maintenance_status() -> str:
    """The Hub's ``maintenance_status``, from the installed package's classifier."""
    from importlib.metadata import metadata

    classifiers = metadata("tap-pocket").get_all("Classifier") or []
    (status,) = [MAINTENANCE_STATUS[c] for c in classifiers if c in MAINTENANCE_STATUS]
    return status


def log_parser(capabilities: list[str], keywords: list[str]) -> dict[str, str]:
    """hub-utils ``_boilerplate_definition``: an SDK tap with structured logging names its parser.

    Meltano then reads the tap's JSON log lines as the SDK writes them.
    """
    if "structured-logging" in capabilities and "meltano_sdk" in keywords:
        return {"log_parser": "singer-sdk"}
    return {}


def get_label(name: str) -> str:
    """hub-utils ``MeltanoUtil._get_label``: words title-cased, known acronyms upper-cased."""
    replacements = (
        ("Aws", "AWS"),
        ("Url", "URL"),
        ("Id", "ID"),
        ("Db", "Database"),
        ("Api", "API"),
        ("Oauth", "OAuth"),
        ("Ssh", "SSH"),
        ("Ssl", "SSL"),
        ("Gzip", "GZIP"),
        ("Jsonl", "JSONL"),
        ("Sqlalchemy", "SQLAlchemy"),
    )
    words = []
    for word in name.replace("_", " ").replace("-", " ").replace(".", " ").split(" "):
        label_word = word.title()
        for old, new in replacements:
            label_word = label_word.replace(old, new)
        words.append(label_word)
    return " ".join(words)


def _json_type(schema: dict[str, t.Any], name: str) -> str:
    """hub-utils ``_get_kind_from_type``: the first non-null type, with its two defaults."""
    declared = schema.get("type")
    json_type = (
        next((s for s in declared if s != "null"), None) if isinstance(declared, list) else declared
    )
    if json_type:
        return str(json_type)
    # No "type" (the SDK's oneOf settings): an array for the Faker locale, else a string.
    return "array" if name == "faker_config.locale" else "string"


def setting_kind(schema: dict[str, t.Any], name: str = "") -> str:
    """hub-utils ``_parse_kind``: the Meltano setting kind of one JSON-schema property."""
    json_type = _json_type(schema, name)
    lowered = name.lower()
    if json_type == "string":
        if schema.get("format") in {"date-time", "date"} or lowered in {
            "start_date",
            "end_date",
        }:
            return "date_iso8601"
        if schema.get("secret") or any(hint in lowered for hint in PASSWORD_HINTS):
            return "password"
        if schema.get("enum"):
            return "options"
        return "string"
    if json_type == "number":
        # A departure: hub-utils writes `integer`, which Meltano cannot fill with a
        # fraction, and `decimal` crashes Meltano when set through the environment.
        # Settings that take fractions are declared with settings.fraction_type().
        raise plain_number_error(name)
    return json_type


def plain_number_error(name: str) -> ValueError:
    """The error for a setting of JSON type ``number``: no Meltano kind carries it safely."""
    return ValueError(
        f"setting {name}: a plain JSON number has no safe Meltano kind (`decimal` crashes "
        "Meltano when set through the environment, `integer` drops fractions): declare it "
        "with tap_pocket.settings.fraction_type() or as an integer"
    )


def _leaves(properties: dict[str, t.Any], prefix: str = "") -> list[tuple[str, dict[str, t.Any]]]:
    """hub-utils ``_traverse_schema_properties``: nested objects as dotted names."""
    leaves: list[tuple[str, dict[str, t.Any]]] = []
    for key, schema in properties.items():
        name = f"{prefix}{key}"
        declared = schema.get("type", "string")
        is_object = declared == "object" or "object" in declared
        if is_object and schema.get("properties") and name not in OPAQUE_OBJECTS:
            leaves += _leaves(schema["properties"], prefix=f"{name}.")
        else:
            leaves.append((name, schema))
    return leaves


def hub_settings(properties: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    """hub-utils ``_parse_sdk_about_settings``: one Hub setting per leaf, sorted by name.

    Descriptions are taken as they are: hub-utils would pass them through
    ``_clean_description``, and ``tests/test_hub.py`` proves that leaves every one unchanged.
    """
    settings: list[dict[str, t.Any]] = []
    for name, schema in _leaves(properties):
        kind = setting_kind(schema, name)
        setting: dict[str, t.Any] = {
            "name": name,
            "label": schema.get("title") or get_label(name),
            "description": schema.get("description") or "",
            "kind": kind,
        }
        if kind == "options":
            setting["options"] = [
                {"label": get_label(str(value)), "value": value} for value in schema["enum"]
            ]
        if schema.get("default") is not None and kind != "date_iso8601":
            setting["value"] = schema["default"]
        if kind == "password":
            setting["sensitive"] = True
        settings.append(setting)
    return sorted(settings, key=lambda setting: str(setting["name"]))


def sorted_keys(value: t.Any) -> t.Any:  # any YAML value
    """hub-utils ``fix_yaml_dict_format``: every mapping's keys in order (yamllint)."""
    if isinstance(value, dict):
        return {key: sorted_keys(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [sorted_keys(item) for item in value]
    return value


def definition(about_info: dict[str, t.Any]) -> dict[str, t.Any]:
    """The Meltano Hub definition of the tap, from its ``--about`` output.

    As hub-utils ``fix_arrays`` leaves it: capabilities and each settings group sorted,
    settings sorted by name, and every mapping's keys sorted.
    """
    fields = dict(HUB_FIELDS)
    fields["settings_group_validation"] = [
        sorted(group) for group in HUB_FIELDS["settings_group_validation"]
    ]
    return dict(
        sorted_keys(
            {
                **fields,
                "capabilities": sorted(about_info["capabilities"]),
                **log_parser(about_info["capabilities"], HUB_FIELDS["keywords"]),
                "maintenance_status": maintenance_status(),
                "commands": meltano_commands(),
                "select": meltano_select(),
                "settings": hub_settings(about_info["settings"]["properties"]),
                "supported_python_versions": list(about_info["supported_python_versions"]),
            }
        )
    )


class _HubDumper(yaml.SafeDumper):
    """PyYAML's safe dumper, text of several lines written as a ``|`` block.

    The Hub's definitions hold ``settings_preamble`` and ``usage`` so.
    """


def _text(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_HubDumper.add_representer(str, _text)


def render(about_info: dict[str, t.Any]) -> str:
    """The text of ``hub/tap-pocket.yml``: the definition as the Hub stores it."""
    return yaml.dump(
        definition(about_info),
        Dumper=_HubDumper,
        sort_keys=False,
        allow_unicode=True,
        width=float("inf"),
    )


if __name__ == "__main__":
    DEFINITION.write_text(render(about()), encoding="utf-8")
    print(f"wrote {DEFINITION}")
