"""Run the emulator in the foreground for demos.

python -m pocket_emulator --items 500 --port 8787 [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
import threading

from pocket_emulator.generator import generate_account
from pocket_emulator.server import PocketEmulator


def main(argv: list[str] | None = None) -> int:
    """Serve a generated account on 127.0.0.1 until Ctrl-C; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m pocket_emulator", description="Serve an emulated Pocket v3 API."
    )
    parser.add_argument("--items", type=int, default=500, help="items in the generated account")
    parser.add_argument("--port", type=int, default=8787, help="port on 127.0.0.1 (0: any free)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated account")
    parser.add_argument("--consumer-key", default="emulator-consumer-key")
    parser.add_argument("--access-token", default="emulator-access-token")
    parser.add_argument("--user-limit", type=int, default=320, help="calls per user per hour")
    args = parser.parse_args(argv)

    account = generate_account(args.items, seed=args.seed)
    emulator = PocketEmulator(
        account,
        consumer_key=args.consumer_key,
        access_token=args.access_token,
        port=args.port,
        user_limit=args.user_limit,
    )
    with emulator:
        print(  # noqa: T201 - a command-line program: these lines are its output
            f"Pocket emulator serving {args.items} items at {emulator.url}\n"
            f"  consumer_key: {emulator.consumer_key}\n"
            f"  access_token: {emulator.access_token}\n"
            "Press Ctrl-C to stop.",
            file=sys.stderr,
        )
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("stopped", file=sys.stderr)  # noqa: T201 - (same)
    return 0


if __name__ == "__main__":
    sys.exit(main())
