"""Allow `python -m tap_pocket` (same as the `tap-pocket` command)."""

from tap_pocket.tap import cli

cli()
