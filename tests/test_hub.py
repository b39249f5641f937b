"""The Meltano Hub definition passes the Hub's own checks, run from copies kept in hub/validation.

The checks are those meltano/hub runs on every plugin definition (commit 9d28b36,
.github/workflows/plugin_definition_validation.yml and check-yaml-format.yml): the JSON
schema (utility_scripts/plugin_definitions/plugin_schema_validate.py), the maintainers list
(maintainers_validate.py), yamllint with the Hub's .yamllint.yaml, and a logo that exists
under static/assets/logos. hub/validation/README.md gives the provenance of each copy.
"""

from __future__ import annotations

import json
import re
import typing as t
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7
from yamllint import linter
from yamllint.config import YamlLintConfig

from hub import generate

ROOT = Path(__file__).resolve().parent.parent
HUB = ROOT / "hub"
VALIDATION = HUB / "validation"
DEFINITION_PATH = HUB / "tap-pocket.yml"


def definition_text() -> str:
    return DEFINITION_PATH.read_text(encoding="utf-8")


def definition() -> dict[str, t.Any]:
    return dict(yaml.safe_load(definition_text()))


def schema_errors(document: dict[str, t.Any]) -> list[str]:
    """Validate as plugin_schema_validate.py does: Draft 7, every schema in one registry."""
    resources = []
    for folder in ("common", "plugin_definitions"):
        for source in sorted((VALIDATION / "schemas" / folder).glob("*.json")):
            schema = json.loads(source.read_text(encoding="utf-8"))
            resource = Resource.from_contents(schema, default_specification=DRAFT7)
            resources.append((schema["$id"], resource))
    registry: Registry[t.Any] = Registry().with_resources(resources)
    extractors = json.loads(
        (VALIDATION / "schemas" / "plugin_definitions" / "extractors.schema.json").read_text()
    )
    validator = Draft7Validator(extractors, registry=registry)
    return [error.message for error in validator.iter_errors(document)]


def yamllint_problems(text: str) -> list[str]:
    config = YamlLintConfig(file=str(VALIDATION / "yamllint.yaml"))
    return [f"{p.line}: {p.desc} ({p.rule})" for p in linter.run(text, config)]


def test_definition_passes_the_hub_json_schema() -> None:
    assert schema_errors(definition()) == []


def test_the_hub_json_schema_rejects_what_the_hub_rejects() -> None:
    without_quality = {k: v for k, v in definition().items() if k != "quality"}
    assert "'quality' is a required property" in schema_errors(without_quality)
    unknown_kind = definition()
    unknown_kind["settings"][0]["kind"] = "text"
    assert schema_errors(unknown_kind)


def test_definition_passes_the_hub_yamllint_configuration() -> None:
    assert yamllint_problems(definition_text()) == []


def test_the_hub_yamllint_configuration_enforces_key_order() -> None:
    reordered = "name: tap-pocket\nlabel: Pocket\n"
    assert any("key-ordering" in p for p in yamllint_problems(reordered))


def test_variant_is_a_hub_maintainer_once_our_entry_is_added() -> None:
    """maintainers_validate.py: every variant (lower-cased) is a key of _data/maintainers.yml.

    tap-pocket is a new maintainer: the Hub's list lacks it, so the pull request that adds
    the definition adds hub/maintainers-entry.yml to _data/maintainers.yml, in the form
    hub-utils' ``_handle_maintainer`` writes (label and name the variant, url the owner).
    """
    variant = definition()["variant"]
    hub_maintainers = yaml.safe_load((VALIDATION / "maintainers.yml").read_text(encoding="utf-8"))
    entry = yaml.safe_load((HUB / "maintainers-entry.yml").read_text(encoding="utf-8"))
    assert variant.lower() not in hub_maintainers
    assert variant.lower() in {**hub_maintainers, **entry}
    owner_url = definition()["repo"].rsplit("/", 1)[0]
    assert entry == {variant: {"label": variant, "name": variant, "url": owner_url}}


def test_logo_is_an_asset_of_the_hub() -> None:
    logo_url = definition()["logo_url"]
    folder, _, file_name = logo_url.rpartition("/")
    assert folder == "/assets/logos/extractors"
    logos = (VALIDATION / "logos-extractors.txt").read_text(encoding="utf-8").split()
    assert file_name in logos


def test_supported_python_versions_are_the_classifiers() -> None:
    # tomllib is 3.11+ and the suite runs on 3.10 too: the classifier lines are enough.
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    versions = re.findall(
        r'^\s*"Programming Language :: Python :: (3\.\d+)",$', pyproject, re.MULTILINE
    )
    assert versions
    assert definition()["supported_python_versions"] == versions


def test_keywords_hold_the_hub_category_words_of_both_sources() -> None:
    """The Hub's category words: `api` (Pocket's v3 API) and `file` (its export files)."""
    keywords = definition()["keywords"]
    assert keywords[0] == "meltano_sdk"  # as hub-utils writes it for SDK taps
    assert {"api", "file"} <= set(keywords)
    assert "database" not in keywords
    assert all(k == k.lower() and " " not in k for k in keywords)
    assert len(set(keywords)) == len(keywords)


def development_status() -> str:
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    (status,) = re.findall(r'"Development Status :: \d - ([^"]+)"', pyproject)
    return status


def test_maintenance_status_is_beta_while_the_package_says_beta() -> None:
    assert development_status() == "Beta"  # no stable release yet
    assert definition()["maintenance_status"] == "beta"
    assert generate.MAINTENANCE_STATUS["Development Status :: 5 - Production/Stable"] == "active"


#: Words a Title Case label keeps in lower case.
SMALL_WORDS = frozenset({"a", "an", "and", "as", "at", "by", "for", "in", "of", "on", "or", "to"})


def title_case_problems(label: str) -> list[str]:
    """Words of ``label`` that Title Case would capitalize (code and file names excepted)."""
    words = label.split()
    return [
        word
        for index, word in enumerate(words)
        if word[0].islower()
        and "`" not in word
        and "." not in word  # robots.txt
        and (index == 0 or word not in SMALL_WORDS)
    ]


def test_labels_are_title_case_as_the_hubs() -> None:
    assert title_case_problems("Max Rate-Limit Wait") == []
    assert title_case_problems("Respect robots.txt") == []
    assert title_case_problems("Fetch cache path") == ["cache", "path"]
    labels = [definition()["label"]]
    for setting in definition()["settings"]:
        labels += [setting["label"], *(o["label"] for o in setting.get("options", []))]
    assert {
        label: title_case_problems(label) for label in labels if title_case_problems(label)
    } == {}


def test_preamble_warns_that_pages_fetches_every_saved_link() -> None:
    preamble = definition()["settings_preamble"]
    assert "**Selecting the `pages` stream fetches every saved link from the web.**" in preamble
    assert "pages" not in [rule.split(".")[0] for rule in definition()["select"]]
    assert "`pip_url: tap-pocket[parquet,faker]`" in preamble
    for setting in ("export_path", "consumer_key", "access_token"):
        assert f"`{setting}`" in preamble
    assert "`meltano select tap-pocket pages '*'`" in definition()["usage"]


def test_description_says_what_the_source_is() -> None:
    description = definition()["description"]
    assert description.startswith("Pocket, the read-it-later service")
    assert "export" in description
    assert "API" in description


def test_sdk_log_parser_as_hub_utils_writes_it() -> None:
    assert "structured-logging" in definition()["capabilities"]
    assert definition()["log_parser"] == "singer-sdk"
    assert generate.log_parser(["structured-logging"], ["api"]) == {}


def test_settings_take_the_kinds_and_labels_the_hub_uses_for_sdk_taps() -> None:
    settings = {s["name"]: s for s in definition()["settings"]}
    assert settings["faker_config.locale"]["kind"] == "array"
    assert settings["faker_config.seed"]["kind"] == "string"
    assert settings["stream_maps"]["kind"] == "object"
    assert settings["stream_map_config"]["kind"] == "object"
    assert not [name for name in settings if name.startswith("stream_maps.")]
    labels = {o["value"]: o["label"] for o in settings["batch_config.encoding.format"]["options"]}
    assert labels == {"jsonl": "JSONL", "parquet": "Parquet"}
    labels = {
        o["value"]: o["label"] for o in settings["batch_config.encoding.compression"]["options"]
    }
    assert labels == {"gzip": "GZIP", "none": "None"}
    assert [s["name"] for s in definition()["settings"]] == sorted(settings)


def test_auth_command_is_the_one_in_meltano_yml() -> None:
    meltano_yml = yaml.safe_load((ROOT / "meltano.yml").read_text(encoding="utf-8"))
    (extractor,) = [p for p in meltano_yml["plugins"]["extractors"] if p["name"] == "tap-pocket"]
    assert definition()["commands"]["auth"]["args"] == "auth"
    assert definition()["commands"] == extractor.get("commands")


# hub-utils' description cleaner, restated from meltano/hub commit
# 9d28b36a64bf1ba18d6b0dd6936d8f14d2eaa0ba, hub-utils/hub_utils/meltano_util.py (unchanged
# since meltano/hub-utils commit 70a447bd3542814201b246c102346fc45854c723, before hub-utils
# moved into the Hub's repository): MeltanoUtil._split_sentence_endings, _last_element,
# _capitalize and _clean_description.
# hub-utils applies it to every setting's description when it writes a definition.


def _split_sentence_endings(word_list: list[str]) -> str:
    clean: list[str] = []
    for word in word_list:
        if any(i in word for i in ["i.e.", "e.g."]):
            clean.append(word)
            continue
        if len(word.split(".")) > 1 and not word.startswith("."):
            head, tail = word.split(".")[0], word.split(".")[1]
            if head[-1].isnumeric() and tail and tail[0].isnumeric():
                clean.append(word)
                continue
            keywords = ("http", "ssh", "ssl", "e.g.", '"', "`", "()", ".com")
            if not any(keyword in word for keyword in keywords):
                clean.extend(word.replace(".", ". ").split())
                continue
        clean.append(word)
    return " ".join(clean)


def _capitalize(cleaned_sentence: str) -> str:
    clean_capital_list: list[str] = []
    for elem in cleaned_sentence.split(". "):
        sentence_list = elem.split()
        last_elem = clean_capital_list[-1] if clean_capital_list else ""
        if (
            sentence_list[0][0].isupper()
            or sentence_list[0][0] == "'"
            or last_elem.endswith(("e.g", "i.e"))
            or sentence_list[0].startswith(("tap-", "target-", "http"))
        ):
            clean_capital_list.append(" ".join(sentence_list))
        else:
            sentence_list[0] = sentence_list[0].capitalize()
            clean_capital_list.append(" ".join(sentence_list))
    return ". ".join(clean_capital_list)


def clean_description(description: str) -> str:
    if not description:
        return description
    cleaned = _capitalize(_split_sentence_endings(description.split()))
    return cleaned.replace("Dbt", "dbt")


def test_the_restated_cleaner_mangles_what_hub_utils_mangles() -> None:
    assert clean_description("Read pocket.zip or a part_*.csv file.") == (
        "Read pocket. Zip or a part_*. Csv file."
    )
    assert clean_description("true: only favorites.") == "True: only favorites."


@pytest.mark.parametrize("setting", definition()["settings"], ids=lambda s: s["name"])
def test_descriptions_survive_the_hub_utils_cleaner(setting: dict[str, t.Any]) -> None:
    assert setting["description"], setting["name"]
    assert clean_description(setting["description"]) == setting["description"]


def test_definition_is_generated_from_about() -> None:
    assert definition_text() == generate.render(generate.about()), (
        "run `uv run python hub/generate.py`"
    )
