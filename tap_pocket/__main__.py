"""Allow `python -m tap_pocket`."""

from tap_pocket.tap import TapPocket

TapPocket.cli()
