"""tap-pocket: the tap class, its streams and the ``tap-pocket`` command."""

from __future__ import annotations

import copy
import logging
import os
import sys
import typing as t

import click
from singer_sdk import Tap
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.plugin_base import PluginBase, SingerCommand
from singer_sdk.singerlib import Catalog
from typing_extensions import override

from tap_pocket.output import BufferedMsgSpecWriter
from tap_pocket.redact import REDACTOR, redact_output
from tap_pocket.settings import (
    SETTINGS_SCHEMA,
    secret_values,
    setting,
    settings_errors,
    without_secret_values,
)

if t.TYPE_CHECKING:
    from singer_sdk import Stream


class TapPocket(Tap):
    """Singer tap for Pocket: the saved library from an export or a Pocket v3 API."""

    name = "tap-pocket"
    # msgspec serializes Singer messages several times faster than the default writer;
    # the buffered one also carries the streams' directly written RECORD lines.
    message_writer_class = BufferedMsgSpecWriter

    # A copy: the SDK appends its built-in settings (stream maps, flattening, batch) to
    # this dict in place, and SETTINGS_SCHEMA stays the tap's own.
    config_jsonschema = copy.deepcopy(SETTINGS_SCHEMA)

    def __init__(self, *args: t.Any, validate_config: bool = True, **kwargs: t.Any) -> None:
        try:
            super().__init__(*args, validate_config=validate_config, **kwargs)
        except ConfigValidationError as exc:
            self._protect_secrets()
            # The SDK's messages quote the rejected values, secrets' included.
            raise invalid_config(without_secret_values(exc.errors, self.config)) from None
        self._protect_secrets()
        if validate_config:
            errors = settings_errors(self.config)
            if errors:
                raise invalid_config(errors)

    def _protect_secrets(self) -> None:
        """Hide the secret settings' values in every line written from now on."""
        for name, text in secret_values(self.config, self.config_jsonschema):
            REDACTOR.protect(name, [text])

    @override
    def setup_mapper(self) -> None:
        """The SDK's mapper, given each stream's schema as if the catalog selected it.

        ``Tap.setup_mapper`` registers the schema the catalog selects, and a deselected
        stream's has no columns: a stream map on it failed ("Invalid key properties",
        meltano/sdk#1942). Yet ``items`` is read for its children when only
        ``highlights`` is selected, and its map's ``__filter__`` decides which highlights
        go out, so that map needs the items' columns. A stream's own column selection
        is kept.
        """
        PluginBase.setup_mapper(self)  # Tap's registers the selected schemas only
        catalog = Catalog.from_dict(self.catalog.to_dict())
        for entry in catalog.streams:
            entry.metadata.root.selected = True
        self.mapper.register_raw_streams_from_catalog(catalog)

    @property
    def export_mode(self) -> bool:
        """Whether the tap reads an export (``export_path``) rather than the API."""
        return bool(setting(self.config, "export_path"))

    @override
    def discover_streams(self) -> list[Stream]:
        if self.export_mode:
            from tap_pocket.export import ExportReader
            from tap_pocket.export.detect import detect_kind
            from tap_pocket.export.streams import ExportHighlightsStream, ExportItemsStream
            from tap_pocket.pages.stream import ExportPagesStream

            # A missing or unreadable export stops the run here, before any message (once
            # the settings hold together: their own errors are reported first, by __init__).
            if not settings_errors(self.config):
                detect_kind(self.config["export_path"])
            reader = ExportReader(
                self.config["export_path"],
                skip_bad_rows=bool(setting(self.config, "skip_bad_rows")),
                logger=self.logger,
            )
            items = ExportItemsStream(self, reader=reader)
            return [
                items,
                ExportHighlightsStream(self, reader=reader, items=items),
                ExportPagesStream(self),
            ]
        from tap_pocket.api.streams import HighlightsStream, ItemsStream
        from tap_pocket.pages.stream import PagesStream

        return [ItemsStream(self), HighlightsStream(self), PagesStream(self)]

    @override
    @classmethod
    def get_singer_command(cls) -> click.Command:
        """The SDK's tap command, as a group with the ``auth`` subcommand.

        ``tap-pocket [--config ... --catalog ...]`` runs the tap exactly as the SDK's
        command does; ``tap-pocket auth ...`` runs the OAuth flow instead (and is what
        the ``auth`` command of the Meltano plugin invokes).
        """
        command = super().get_singer_command()
        tap_invoke = command.callback
        assert tap_invoke is not None  # noqa: S101 - the SDK command always has one

        def invoke(**kwargs: t.Any) -> t.Any:
            if click.get_current_context().invoked_subcommand:
                return None  # `tap-pocket auth`: the subcommand alone runs
            try:
                return tap_invoke(**kwargs)
            except ConfigValidationError as exc:
                # The SDK's command would end with the whole settings schema on one
                # line (11 KB), the line `meltano config test` shows: the message,
                # which names every invalid or missing setting, instead.
                report(exc)
                raise click.exceptions.Exit(1) from None

        return TapCommand(
            name=command.name,
            callback=invoke,
            params=command.params,
            help=command.help,
            context_settings=command.context_settings,
            logger=cls.logger,
            invoke_without_command=True,
        )


def invalid_config(errors: list[str]) -> ConfigValidationError:
    """The SDK's config error, its message naming every error on one line."""
    return ConfigValidationError(f"Config validation failed: {'; '.join(errors)}", errors=errors)


class TapCommand(SingerCommand, click.Group):
    """The SDK's Singer command with subcommands; ``auth`` is imported only when used."""

    @override
    def list_commands(self, ctx: click.Context) -> list[str]:
        return ["auth"]

    @override
    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name != "auth":
            return None
        from tap_pocket.auth import auth_command

        return auth_command


def cli() -> None:
    """``tap-pocket``: the Singer tap, or ``tap-pocket auth`` to obtain an access token.

    A failure ends the run with its message on one line and exit status 1; the traceback
    is shown only at DEBUG (``TAP_POCKET_LOGLEVEL=debug`` or ``LOGLEVEL=debug``). Secrets
    are hidden in all it writes (:mod:`tap_pocket.redact`).
    """
    redact_output()
    try:
        TapPocket.cli()
    except ConfigValidationError as exc:  # the user's settings: nothing to debug
        report(exc)
        sys.exit(1)
    except Exception as exc:
        if _debugging():
            raise
        report(exc)
        sys.exit(1)


def report(exc: Exception) -> None:
    """Log a failure as its message on one line, without a traceback."""
    message = str(exc).strip() or type(exc).__name__
    logging.getLogger(TapPocket.name).error("%s", " ".join(message.split()))


def _debugging() -> bool:
    """Whether the tap logs at DEBUG, as the SDK reads its log level from the environment."""
    level = os.environ.get("TAP_POCKET_LOGLEVEL") or os.environ.get("LOGLEVEL") or ""
    return level.strip().upper() == "DEBUG"
