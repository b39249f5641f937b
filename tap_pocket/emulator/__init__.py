"""A Pocket v3 API emulator: a real HTTP server on loopback that behaves like Pocket did.

Pocket's service closed in 2025; the tap's tests and benchmarks run against this instead.

    >>> from tap_pocket.emulator import PocketEmulator, generate_account
    >>> with PocketEmulator(generate_account(100)) as pocket:  # doctest: +SKIP
    ...     requests.post(f"{pocket.url}/v3/get", json={...})

See :mod:`~tap_pocket.emulator.account` for the data model, :mod:`~.faults` for failure
injection, :mod:`~.oauth` for the authorization flow and :mod:`~.v3_get` for parameters.
"""

from tap_pocket.emulator.account import Account
from tap_pocket.emulator.clock import FakeClock
from tap_pocket.emulator.faults import Faults
from tap_pocket.emulator.generator import generate_account
from tap_pocket.emulator.server import PocketEmulator, RecordedRequest

__all__ = [
    "Account",
    "FakeClock",
    "Faults",
    "PocketEmulator",
    "RecordedRequest",
    "generate_account",
]
