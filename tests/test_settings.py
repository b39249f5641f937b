"""Bad settings and bad credentials: a clear message, a non-zero exit, no secret shown."""

from __future__ import annotations

import importlib.util
import typing as t
from pathlib import Path

import pytest
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers.capabilities import (
    BATCH_CONFIG,
    EMIT_ACTIVATE_VERSION_CONFIG,
    STREAM_MAPS_CONFIG,
)

from tap_pocket.settings import (
    DEFAULT_API_URL,
    DEFAULTS,
    EXTRA_MODULES,
    SETTINGS_SCHEMA,
    api_url_error,
    install_command,
    missing_extra_errors,
    setting,
    uses_fake,
)
from tap_pocket.tap import TapPocket

from .conftest import run_cli

if t.TYPE_CHECKING:
    from pocket_emulator import PocketEmulator

CREDENTIALS = {"consumer_key": "ck-123456-abcdef", "access_token": "at-secret-987654"}


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ({"page_size": 0}, "page_size"),
        ({"page_size": 5001}, "page_size"),
        ({"state": "read-later"}, "state"),
        ({"detail_type": "full"}, "detail_type"),
        ({"content_type": "podcast"}, "content_type"),
        ({"favorite": "yes"}, "favorite"),
        ({"start_date": "last tuesday"}, "start_date"),
        ({"request_timeout": 0}, "request_timeout"),
        ({"api_url": "http://pocket.example.com"}, "api_url"),
        ({"api_url": "ftp://127.0.0.1"}, "api_url"),
        ({"tag": ""}, "tag"),
        ({"backoff_factor": "fast"}, "backoff_factor"),
        ({"backoff_factor": "-1"}, "backoff_factor"),
        ({"backoff_factor": -0.5}, "backoff_factor"),
        ({"fetch_timeout_seconds": 2.5}, "fetch_timeout_seconds"),
    ],
)
def test_invalid_setting_is_rejected_naming_it(override: dict[str, t.Any], named: str) -> None:
    with pytest.raises(ConfigValidationError) as raised:
        TapPocket(config={**CREDENTIALS, **override}, parse_env_config=False)
    assert any(named in error for error in raised.value.errors), raised.value.errors


def test_missing_credentials_are_named() -> None:
    with pytest.raises(ConfigValidationError) as raised:
        TapPocket(config={"consumer_key": "x"}, parse_env_config=False)
    assert any("access_token" in e for e in raised.value.errors)


def test_export_and_credentials_together_are_refused() -> None:
    with pytest.raises(ConfigValidationError) as raised:
        TapPocket(config={**CREDENTIALS, "export_path": "pocket.zip"}, parse_env_config=False)
    assert any("export_path" in e and "not both" in e for e in raised.value.errors)


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://getpocket.com", True),
        ("http://127.0.0.1:8787", True),
        ("http://localhost:8787", True),
        ("http://[::1]:8787", True),
        ("http://127.9.9.9", True),
        ("http://getpocket.com", False),
        ("http://10.0.0.5", False),
        ("https://user:pw@getpocket.com", False),
        ("getpocket.com", False),
    ],
)
def test_plain_http_only_for_loopback(url: str, ok: bool) -> None:
    assert (api_url_error(url) is None) is ok


def test_bad_setting_exits_non_zero_through_the_cli(tmp_path: Path) -> None:
    result = run_cli(config={**CREDENTIALS, "page_size": 0}, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "page_size" in result.stderr
    assert result.stdout == ""
    assert CREDENTIALS["access_token"] not in result.stderr


@pytest.mark.parametrize(
    ("override", "status", "code", "text"),
    [
        ({"access_token": "not-a-token"}, 401, "107", "A valid access token is required"),
        ({"consumer_key": "not-a-key"}, 403, "152", "Invalid consumer key."),
    ],
)
def test_bad_credentials_fail_fast_with_pockets_error(
    tmp_path: Path,
    emulator: PocketEmulator,
    api_config: dict[str, t.Any],
    override: dict[str, str],
    status: int,
    code: str,
    text: str,
) -> None:
    config = {**api_config, **override}
    result = run_cli(config=config, tmp_path=tmp_path)
    assert result.returncode != 0
    assert f"HTTP {status}" in result.stderr
    assert f"X-Error-Code {code}" in result.stderr
    assert text in result.stderr
    assert "hint:" in result.stderr
    # a fatal error is not retried
    assert len([r for r in emulator.requests if r[1] == "/v3/get"]) == 1
    for secret in (config["consumer_key"], config["access_token"]):
        assert secret not in result.stderr
        assert secret not in result.stdout


def test_environment_does_not_leak_into_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAP_POCKET_PAGE_SIZE", "7")
    tap = TapPocket(config=CREDENTIALS, parse_env_config=False)
    assert tap.config["page_size"] == DEFAULTS["page_size"] != 7


def test_defaults_are_the_schemas() -> None:
    properties = SETTINGS_SCHEMA["properties"]
    assert dict(DEFAULTS) == {n: p["default"] for n, p in properties.items() if "default" in p}
    assert DEFAULTS["api_url"] == DEFAULT_API_URL
    assert DEFAULTS["page_size"] == 1000
    with pytest.raises(TypeError):
        DEFAULTS["page_size"] = 10  # type: ignore[index]


def test_setting_is_the_configured_value_or_the_default() -> None:
    assert setting({"page_size": 100}, "page_size") == 100
    assert setting({}, "page_size") == 1000
    assert setting({"page_size": None}, "page_size") == 1000
    assert setting({"favorite": False}, "favorite") is False
    assert setting({}, "tag") is None
    with pytest.raises(KeyError, match="page_sise"):
        setting({}, "page_sise")


def test_the_tap_validates_and_reports_the_settings_schema_without_changing_it() -> None:
    TapPocket(config=CREDENTIALS, parse_env_config=False)
    reported = TapPocket.config_jsonschema["properties"]
    assert "stream_maps" in reported  # the SDK's built-in settings, appended in place
    assert "stream_maps" not in SETTINGS_SCHEMA["properties"]
    for name, schema in SETTINGS_SCHEMA["properties"].items():
        assert reported[name] == schema, name


def test_the_sdks_activate_version_setting_is_listed_as_the_sdk_defines_it() -> None:
    """The SDK reads emit_activate_version_messages but does not list it in --about."""
    (name,) = EMIT_ACTIVATE_VERSION_CONFIG["properties"]
    sdk = EMIT_ACTIVATE_VERSION_CONFIG["properties"][name]
    ours = SETTINGS_SCHEMA["properties"][name]
    assert {**ours, "title": sdk["title"]} == sdk  # the label in Title Case, as all others
    assert ours["title"] == sdk["title"].replace(" messages", " Messages") != sdk["title"]
    assert DEFAULTS[name] is False
    tap = TapPocket(config={**CREDENTIALS, name: True}, parse_env_config=False)
    assert all(stream.emit_activate_version_messages for stream in tap.streams.values())


def without_descriptions(schema: t.Any) -> t.Any:
    if isinstance(schema, dict):
        return {k: without_descriptions(v) for k, v in schema.items() if k != "description"}
    return schema


def descriptions(schema: dict[str, t.Any]) -> list[str]:
    inner = [text for prop in schema.get("properties", {}).values() for text in descriptions(prop)]
    return [schema["description"], *inner]


def test_the_sdk_settings_that_need_an_extra_name_it() -> None:
    """batch_config and faker_config as the SDK defines them, saying which extra they need."""
    properties = SETTINGS_SCHEMA["properties"]
    sdk_batch = BATCH_CONFIG["properties"]["batch_config"]
    sdk_faker = STREAM_MAPS_CONFIG["properties"]["faker_config"]
    assert without_descriptions(properties["batch_config"]) == without_descriptions(sdk_batch)
    assert without_descriptions(properties["faker_config"]) == without_descriptions(sdk_faker)
    encoding = properties["batch_config"]["properties"]["encoding"]["properties"]
    assert "pip install 'tap-pocket[parquet]'" in encoding["format"]["description"]
    faker_texts = descriptions(properties["faker_config"])
    assert len(faker_texts) == 3
    assert all("pip install 'tap-pocket[faker]'" in text for text in faker_texts)
    # --about reports them so (the SDK adds its built-in settings only where missing).
    TapPocket(config=CREDENTIALS, parse_env_config=False)
    reported = TapPocket.config_jsonschema["properties"]
    assert reported["batch_config"] == properties["batch_config"]
    assert reported["faker_config"] == properties["faker_config"]


def test_the_extras_are_pyprojects() -> None:
    pyproject = (Path(__file__).resolve().parent.parent / "pyproject.toml").read_text()
    section = pyproject.split("[project.optional-dependencies]", 1)[1].split("\n[", 1)[0]
    extras = {line.split(" = ")[0] for line in section.splitlines() if " = [" in line}
    assert extras == set(EXTRA_MODULES)
    for extra in EXTRA_MODULES:
        assert f'{extra} = ["singer-sdk[{extra}]"]' in section
        assert install_command(extra) == f"pip install 'tap-pocket[{extra}]'"


@pytest.mark.parametrize(
    ("stream_maps", "expected"),
    [
        ({"items": {"title": "fake.name()"}}, True),
        ({"items": {"__filter__": "fake.pybool() and record['favorite']"}}, True),
        ({"highlights": None, "items": {"title": "str(fake.pyint())"}}, True),
        ({"items": {"title": "'fake'"}}, False),
        ({"items": {"title": "record['fake']"}}, False),
        ({"items": {"fake": "title"}}, False),  # a property named fake
        ({"items": {"__alias__": "fake"}}, False),  # a stream named fake
        ({"fake": {"__source__": "items", "__key_properties__": ["fake"]}}, False),
        ({"items": {"title": "fake."}}, False),  # unreadable: the SDK says so
        ({"items": None, "__else__": "__NULL__"}, False),
        ({"items": {"title": "__NULL__"}}, False),
        (None, False),
        ("fake.name()", False),  # not a stream map: the schema check reports it
    ],
)
def test_uses_fake_reads_the_expressions_only(stream_maps: t.Any, expected: bool) -> None:
    assert uses_fake(stream_maps) is expected


PARQUET_BATCHES = {"encoding": {"format": "parquet", "compression": "none"}}


def test_settings_needing_an_installed_extra_pass() -> None:
    """This environment has both extras (the dev group installs tap-pocket[parquet,faker])."""
    for module in EXTRA_MODULES.values():
        assert importlib.util.find_spec(module) is not None, module
    config = {
        "batch_config": PARQUET_BATCHES,
        "faker_config": {"seed": 3},
        "stream_maps": {"items": {"title": "fake.name()"}},
    }
    assert missing_extra_errors(config) == []


def test_fake_in_stream_maps_works_with_the_faker_extra(tmp_path: Path) -> None:
    export = Path(__file__).parent / "fixtures" / "export" / "wallabag_pocket_export_2025.csv"
    config = {
        "export_path": str(export),
        "faker_config": {"seed": 7, "locale": "de_DE"},
        "stream_maps": {"items": {"title": "fake.name()"}, "highlights": "__NULL__"},
    }
    first = run_cli(config=config, tmp_path=tmp_path)
    assert first.returncode == 0, first.stderr
    titles = [r["title"] for r in first.output.records["items"]]
    plain = run_cli(config={"export_path": str(export)}, tmp_path=tmp_path)
    assert len(titles) == len(plain.output.records["items"]) > 1
    assert not set(titles) & {r.get("title") for r in plain.output.records["items"]}
    assert (
        run_cli(config=config, tmp_path=tmp_path).output.records["items"]
        == (first.output.records["items"])
    )  # seeded


@pytest.mark.parametrize("fraction", [0.25, "0.25", ".25"])
def test_backoff_factor_is_a_number_or_its_text(fraction: t.Any) -> None:
    """As Meltano passes it: a number from meltano.yml, text from the environment or .env."""
    tap = TapPocket(config={**CREDENTIALS, "backoff_factor": fraction}, parse_env_config=False)
    assert float(setting(tap.config, "backoff_factor")) == 0.25


def test_numbers_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """`tap-pocket --config ENV`: the SDK passes integers as integers and the rest as text."""
    for name, value in {
        "TAP_POCKET_CONSUMER_KEY": "ck-123456-abcdef",
        "TAP_POCKET_ACCESS_TOKEN": "at-secret-987654",
        "TAP_POCKET_BACKOFF_FACTOR": "0.5",
        "TAP_POCKET_FETCH_TIMEOUT_SECONDS": "5",
    }.items():
        monkeypatch.setenv(name, value)
    tap = TapPocket(config=None, parse_env_config=True)
    assert float(setting(tap.config, "backoff_factor")) == 0.5
    assert setting(tap.config, "fetch_timeout_seconds") == 5
