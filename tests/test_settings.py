"""Bad settings and bad credentials: a clear message, a non-zero exit, no secret shown."""

from __future__ import annotations

import typing as t

import pytest
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers.capabilities import EMIT_ACTIVATE_VERSION_CONFIG

from tap_pocket.settings import (
    DEFAULT_API_URL,
    DEFAULTS,
    SETTINGS_SCHEMA,
    api_url_error,
    setting,
)
from tap_pocket.tap import TapPocket

from .conftest import run_cli

if t.TYPE_CHECKING:
    from pathlib import Path

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
    assert SETTINGS_SCHEMA["properties"][name] == EMIT_ACTIVATE_VERSION_CONFIG["properties"][name]
    assert DEFAULTS[name] is False
    tap = TapPocket(config={**CREDENTIALS, name: True}, parse_env_config=False)
    assert all(stream.emit_activate_version_messages for stream in tap.streams.values())
