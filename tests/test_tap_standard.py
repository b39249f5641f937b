"""singer-sdk's standard tap tests, against a Pocket emulator on loopback."""

from __future__ import annotations

import atexit

from singer_sdk.testing import SuiteConfig, get_tap_test_class

from pocket_emulator import FakeClock, PocketEmulator, generate_account
from tap_pocket.tap import TapPocket

# The SDK builds the test class at import time from a fixed config, so the emulator
# has to be listening by then (it starts when constructed).
_EMULATOR = PocketEmulator(generate_account(150, seed=3, clock=FakeClock(start=1_700_000_000)))
atexit.register(_EMULATOR.close)

TestTapPocket = get_tap_test_class(
    tap_class=TapPocket,
    config={
        "consumer_key": _EMULATOR.consumer_key,
        "access_token": _EMULATOR.access_token,
        "api_url": _EMULATOR.url,
        "page_size": 50,
    },
    # The environment must not leak into the config under test.
    parse_env_config=False,
    # pages fetches the items' sites, never in the SDK's record-limited (dry) runs: no rows.
    suite_config=SuiteConfig(max_records_limit=150, ignore_no_records_for_streams=["pages"]),
)
