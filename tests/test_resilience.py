"""Resilience: retries, rate limits, failures mid-sync and an account changing under a sync.

Each test injects a fault in the emulator and asserts the exact records that came out.
"""

from __future__ import annotations

import json
import logging
import time
import typing as t

import pytest

from pocket_emulator import Faults

from .conftest import run_cli, run_tap
from .support import item_record

if t.TYPE_CHECKING:
    from pathlib import Path

    from pocket_emulator import Account, FakeClock, PocketEmulator


def get_calls(emulator: PocketEmulator) -> int:
    return sum(1 for request in emulator.requests if request.path == "/v3/get")


def live_ids(account: Account) -> set[str]:
    return {raw["item_id"] for raw in account.live_items()}


def assert_every_item_once(ids: list[str], account: Account) -> None:
    assert len(ids) == len(set(ids)), "duplicates"
    assert set(ids) == live_ids(account) | set(account.deleted_ids())


def apply_to_table(table: dict[str, dict[str, t.Any]], records: list[dict[str, t.Any]]) -> None:
    """What a target does with the stream: upsert on item_id, drop tombstones."""
    for record in records:
        if record.get("_sdc_deleted_at"):
            table.pop(record["item_id"], None)
        else:
            table[record["item_id"]] = record


def assert_table_equals_account(table: dict[str, dict[str, t.Any]], account: Account) -> None:
    assert set(table) == live_ids(account)
    for raw in account.live_items():
        expected = item_record(raw)
        got = table[raw["item_id"]]
        for column in ("given_title", "status", "favorite", "tags", "time_updated"):
            assert got[column] == expected[column], (raw["item_id"], column)


@pytest.mark.parametrize(
    "faults",
    [
        Faults().fail_first(2, status=503, error_code="199", error="Pocket server issue"),
        Faults().fail_first(1, status=500, error_code="198", error="Internal server error"),
        Faults().reset_every(3),
        Faults().truncate_every(2),
        Faults().non_json_every(2),
    ],
    ids=["503-x2", "500", "connection-reset", "truncated-body", "html-body"],
)
def test_transient_faults_are_retried_without_loss(
    emulator: PocketEmulator,
    account: Account,
    api_config: dict[str, t.Any],
    faults: Faults,
    caplog: pytest.LogCaptureFixture,
) -> None:
    emulator.faults = faults
    output = run_tap(api_config)
    assert_every_item_once(output.ids(), account)
    assert "Retrying POST /v3/get" in caplog.text


def test_retries_are_bounded_and_the_error_is_pockets(
    tmp_path: Path, emulator: PocketEmulator, api_config: dict[str, t.Any]
) -> None:
    emulator.faults = Faults().fail_first(50, status=503, error_code="199", error="Maintenance")
    result = run_cli(config={**api_config, "max_retries": 2}, tmp_path=tmp_path)
    assert result.returncode != 0
    assert get_calls(emulator) == 3  # the first try and two retries
    assert "HTTP 503" in result.stderr
    assert "X-Error-Code 199: Maintenance" in result.stderr


def test_slow_responses_time_out_and_are_retried(
    tmp_path: Path, emulator: PocketEmulator, api_config: dict[str, t.Any]
) -> None:
    emulator.faults = Faults().slow(2.5)
    result = run_cli(
        config={**api_config, "request_timeout": 1, "max_retries": 1}, tmp_path=tmp_path
    )
    assert result.returncode != 0
    assert result.stderr.count("Retrying POST /v3/get") == 1
    assert "within request_timeout (1 s)" in result.stderr


@pytest.mark.parametrize(
    ("status", "code", "text", "hint"),
    [
        (400, "130", "Invalid request, please refer to API documentation", "parameter"),
        (400, "138", "Missing consumer key.", "consumer_key"),
        (401, "107", "A valid access token is required", "tap-pocket auth"),
        (403, "152", "Invalid consumer key.", "consumer_key"),
    ],
)
def test_fatal_errors_fail_fast_with_pockets_text_and_a_hint(
    tmp_path: Path,
    emulator: PocketEmulator,
    api_config: dict[str, t.Any],
    status: int,
    code: str,
    text: str,
    hint: str,
) -> None:
    emulator.faults = Faults().fail_first(5, status=status, error_code=code, error=text)
    result = run_cli(config=api_config, tmp_path=tmp_path)
    assert result.returncode != 0
    assert get_calls(emulator) <= 2
    assert f"HTTP {status}, X-Error-Code {code}: {text}" in result.stderr
    assert "hint:" in result.stderr
    assert hint in result.stderr


def test_tap_paces_itself_from_rate_limit_headers(
    emulator: PocketEmulator,
    account: Account,
    api_config: dict[str, t.Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    emulator.faults = Faults().user_limit(3, reset_seconds=2)
    started = time.monotonic()
    output = run_tap(api_config)
    assert_every_item_once(output.ids(), account)
    assert time.monotonic() - started >= 1.0  # it waited for the window to reset
    assert "rate limit is used up: waiting" in caplog.text
    # 120 items at 30 per page: 5 calls, none of them wasted on a 403
    assert get_calls(emulator) == 5


def test_a_rate_limit_403_waits_for_the_reset_then_continues(
    emulator: PocketEmulator,
    account: Account,
    api_config: dict[str, t.Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    emulator.faults = Faults().user_limit(2, reset_seconds=2)
    # A first sync (a page and the final empty page) uses up the window, so the next
    # sync's first answer is a 403; it waits for the reset and then reads everything.
    run_tap({**api_config, "page_size": 5000})
    caplog.clear()
    started = time.monotonic()
    output = run_tap({**api_config, "page_size": 5000})
    assert_every_item_once(output.ids(), account)
    assert "HTTP 403 from POST /v3/get: Pocket's user rate limit is used up" in caplog.text
    assert "waiting" in caplog.text
    assert time.monotonic() - started >= 1.0


def test_past_max_wait_it_stops_with_a_state_to_resume_from(
    tmp_path: Path, emulator: PocketEmulator, account: Account, api_config: dict[str, t.Any]
) -> None:
    emulator.faults = Faults().user_limit(2, reset_seconds=600)
    config = {**api_config, "max_wait": 5}
    stopped = run_cli(config=config, tmp_path=tmp_path)

    assert stopped.returncode != 0
    assert "rate limit is used up and resets in" in stopped.stderr
    assert "max_wait (5 s)" in stopped.stderr
    first_ids = stopped.output.ids()
    assert len(first_ids) == 60  # two pages of 30 made it out before the limit
    resume = stopped.output.state["bookmarks"]["items"]["resume"]
    assert resume["offset"] == 60
    assert resume["since"] == 1

    emulator.faults = Faults()  # the limit has reset
    resumed = run_cli(config=config, state=stopped.output.state, tmp_path=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    second_calls = [r.params for r in emulator.requests if r.path == "/v3/get"][-3:]
    assert second_calls[0]["offset"] == 60
    assert_every_item_once(first_ids + resumed.output.ids(), account)
    final = resumed.output.state["bookmarks"]["items"]
    assert "resume" not in final
    assert final["replication_key_value"]


def test_a_failed_request_for_the_page_ahead_resumes_at_that_page(
    tmp_path: Path, emulator: PocketEmulator, account: Account, api_config: dict[str, t.Any]
) -> None:
    """A failed request for the page ahead: this page comes out whole, the state resumes there.

    The next page is requested while this one is processed; the state written when that
    request fails points at the page that failed, not past it.
    """
    emulator.faults = Faults().reset_every(3)
    config = {**api_config, "max_retries": 0}
    stopped = run_cli(config=config, tmp_path=tmp_path)

    assert stopped.returncode != 0
    oldest_first = [raw["item_id"] for raw in reversed(account.live_items())]
    assert stopped.output.ids() == oldest_first[:60]
    assert stopped.output.state["bookmarks"]["items"]["resume"]["offset"] == 60
    # The highlights of the items read, held for their batch, still come out before the
    # error, and the state that follows them resumes after them.
    highlight_ids = {
        raw["item_id"]: [a["annotation_id"] for a in raw.get("annotations", [])]
        for raw in account.live_items(annotations=True)
    }
    read = [h for item_id in oldest_first[:60] for h in highlight_ids[item_id]]
    assert read
    assert sorted(stopped.output.ids("highlights", "highlight_id")) == sorted(read)
    assert stopped.output.messages[-1]["type"] == "STATE"

    emulator.faults = Faults()
    resumed = run_cli(config=config, state=stopped.output.state, tmp_path=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert_every_item_once(stopped.output.ids() + resumed.output.ids(), account)
    both = stopped.output.ids("highlights", "highlight_id") + resumed.output.ids(
        "highlights", "highlight_id"
    )
    assert sorted(both) == sorted(h for hs in highlight_ids.values() for h in hs)


def test_account_changing_mid_sync_converges_after_one_more_sync(
    emulator: PocketEmulator, account: Account, clock: FakeClock, api_config: dict[str, t.Any]
) -> None:
    ordered = [raw["item_id"] for raw in account.live_items()]

    def change_account(acct: Account) -> None:
        clock.advance(5)
        acct.update_item(ordered[0], given_title="changed on an already-read page")
        acct.update_item(ordered[100], given_title="changed on a page still to come")
        acct.delete_item(ordered[1])  # on the page already read
        acct.delete_item(ordered[95])  # ahead
        acct.archive_item(ordered[2])
        acct.add_item("https://example.com/added-mid-sync", title="added mid-sync")

    emulator.faults = Faults().mutate_after(2, change_account)
    table: dict[str, dict[str, t.Any]] = {}
    first = run_tap(api_config)
    apply_to_table(table, first.records["items"])
    assert len(set(first.ids())) == len(first.ids())

    emulator.faults = Faults()
    clock.advance(5)
    second = run_tap(api_config, state=first.state)
    apply_to_table(table, second.records["items"])
    assert_table_equals_account(table, account)


def test_secrets_never_appear_in_output_at_debug_level(
    tmp_path: Path, emulator: PocketEmulator, api_config: dict[str, t.Any]
) -> None:
    debug = {"TAP_POCKET_LOGLEVEL": "DEBUG"}
    emulator.faults = Faults().fail_first(1).reset_every(4)
    succeeded = run_cli(config=api_config, tmp_path=tmp_path, env=debug)
    assert succeeded.returncode == 0, succeeded.stderr
    emulator.faults = Faults()
    failed = run_cli(
        config={**api_config, "access_token": "wrong-token-5f2c"}, tmp_path=tmp_path, env=debug
    )
    assert failed.returncode != 0
    about = run_cli("--about", "--format=json", config=api_config, tmp_path=tmp_path, env=debug)
    assert "DEBUG" in succeeded.stderr  # the scan really covered debug output
    for result in (succeeded, failed, about):
        for secret in (api_config["consumer_key"], api_config["access_token"], "wrong-token-5f2c"):
            assert secret not in result.stdout
            assert secret not in result.stderr
    state = json.dumps(succeeded.output.state)
    assert api_config["access_token"] not in state
    assert api_config["consumer_key"] not in state
