"""A Pocket v3 API emulator: a real HTTP server on loopback that behaves like Pocket did.

Pocket's service closed in 2025; the tap's tests and benchmarks run against this instead.

    >>> from pocket_emulator import PocketEmulator, generate_account
    >>> with PocketEmulator(generate_account(100)) as pocket:  # doctest: +SKIP
    ...     requests.post(f"{pocket.url}/v3/get", json={...})

See :mod:`~pocket_emulator.account` for the data model, :mod:`~.faults` for failure
injection, :mod:`~.oauth` for the authorization flow and :mod:`~.v3_get` for parameters.
"""

from pocket_emulator.account import Account
from pocket_emulator.clock import FakeClock
from pocket_emulator.faults import Faults
from pocket_emulator.generator import generate_account
from pocket_emulator.server import PocketEmulator, RecordedRequest

__all__ = [
    "Account",
    "FakeClock",
    "Faults",
    "PocketEmulator",
    "RecordedRequest",
    "generate_account",
]
