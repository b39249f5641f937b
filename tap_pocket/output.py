"""Writing Singer messages fast: one output buffer, and RECORD lines encoded directly.

The SDK sends every record through a per-record pipeline (selection mask, type
conformance, stream maps, a message object, a state update, a flush of stdout) that costs
more than reading and building the row itself. When none of those steps can change a
row (:meth:`DirectRecordsStream.writes_directly`), the rows of a stream are encoded
straight into RECORD lines instead; anything else takes the SDK's own path.

Either way the messages are the same: ``tests/test_conformance.py`` runs every
configuration a user can set (selection, stream maps, flattening, FULL_TABLE with
activate-version, INCREMENTAL with and without state, child streams, ``--test``, BATCH)
on an export, an API dump and the API, through both paths, and compares them. It is
also what pins the SDK internals the direct path mirrors (``Stream._sync_records`` and
the state and child-sync steps it calls), so an SDK upgrade that changes them fails there.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import gc
import itertools
import sys
import typing as t
from datetime import datetime, timezone

import msgspec
from singer_sdk import Stream
from singer_sdk.contrib.msgspec import MsgSpecWriter, serialize_jsonl
from singer_sdk.mapper import SameRecordTransform
from singer_sdk.singerlib import ActivateVersionMessage, SchemaMessage, StateMessage
from typing_extensions import override

if t.TYPE_CHECKING:
    from collections.abc import Generator, Iterable, Iterator

    from singer_sdk.helpers.types import Context
    from singer_sdk.singerlib.encoding.simple import Message

# Singer's replication methods, as catalogs and Stream.replication_method spell them.
FULL_TABLE = "FULL_TABLE"
INCREMENTAL = "INCREMENTAL"

#: Records are handed to stdout in chunks of about this size, not one write each.
FLUSH_BYTES = 1 << 18


class BufferedMsgSpecWriter(MsgSpecWriter):
    """msgspec's Singer writer, with a buffer that direct RECORD lines share.

    Messages written through the SDK are flushed at once, as the SDK's writers do; the
    buffer only ever holds lines of :meth:`DirectRecordsStream.write_records_directly`,
    which flushes it every :data:`FLUSH_BYTES` and before any other message goes out, so
    the order of messages on stdout is the order they were produced in.

    A SCHEMA or ACTIVATE_VERSION message equal to the last one sent for its stream is
    not sent again: a child stream syncs once per parent row, and the SDK writes both at
    the start of every sync, while targets flush their tables on each SCHEMA.
    """

    def __init__(self) -> None:
        self.buffer = bytearray()
        self._last_sent: dict[tuple[str, str], bytes] = {}
        #: The version announced by each stream's ACTIVATE_VERSION message, if any.
        self.versions: dict[str, int] = {}

    @override
    def serialize_message(self, message: Message) -> bytearray:
        # Message.to_dict deep-copies the schema or state (dataclasses.asdict) each time;
        # encoding needs no copy. Same keys, same order, None fields left out as there.
        if not isinstance(message, (SchemaMessage, StateMessage)):
            return serialize_jsonl(message.to_dict())
        return serialize_jsonl(
            {
                field.name: value
                for field in dataclasses.fields(message)
                if (value := getattr(message, field.name)) is not None
            }
        )

    @override
    def write_message(self, message: Message) -> None:
        line = self.format_message(message)
        if isinstance(message, (SchemaMessage, ActivateVersionMessage)):
            key = (str(message.type), message.stream)
            if self._last_sent.get(key) == bytes(line):
                return
            self._last_sent[key] = bytes(line)
            if isinstance(message, ActivateVersionMessage):
                self.versions[message.stream] = message.version
        self.buffer += line
        self.flush()

    def flush(self) -> None:
        """Hand the buffered lines to stdout, and flush it."""
        if self.buffer:
            sys.stdout.buffer.write(self.buffer)
            self.buffer.clear()
        sys.stdout.flush()


@contextlib.contextmanager
def _fewer_garbage_collections() -> Iterator[None]:
    """Run the cyclic garbage collector rarely, and never over the objects of start-up.

    A sync allocates a few dicts and lists per row, and every 700 allocations Python's
    collector would scan the young ones (and, now and then, everything alive), which
    costs a tenth of the run. Rows hold no reference cycles: reference counting frees
    them, whatever the collector does.
    """
    global _syncs_running  # noqa: PLW0603 - a child syncs inside its parent's sync
    outermost = _syncs_running == 0
    threshold = gc.get_threshold()
    if outermost:
        gc.freeze()
        gc.set_threshold(50_000, *threshold[1:])
    _syncs_running += 1
    try:
        yield
    finally:
        _syncs_running -= 1
        if outermost:
            gc.set_threshold(*threshold)
            gc.unfreeze()


_syncs_running = 0


class _RecordLines:
    """The fixed parts of one stream's RECORD lines, as the SDK's msgspec writer puts them."""

    def __init__(self, stream: str, version: int | None) -> None:
        header: dict[str, t.Any] = {"type": "RECORD", "stream": stream}
        self.head = msgspec.json.encode(header)[:-1] + b',"record":'
        self._version = b"" if version is None else b',"version":' + msgspec.json.encode(version)
        self.encode_into = msgspec.json.Encoder().encode_into

    def tail(self) -> bytes:
        """The end of a line: ``version`` if any, and ``time_extracted``, now."""
        now = msgspec.json.encode(datetime.now(timezone.utc))
        return self._version + b',"time_extracted":' + now + b"}\n"


class DirectRecordsStream(Stream):
    """A stream whose rows are written as RECORD lines directly when nothing would change them.

    The SDK's record path is taken otherwise.
    """

    def writes_directly(self, context: Context | None) -> bool:
        """Whether nothing of the SDK's per-record path could change this sync's rows.

        That is: all columns selected, no stream maps or flattening, no partitioned state,
        no record limit (``--test``), no post-processing.
        """
        writer = self._tap.message_writer
        maps = self.stream_maps
        return (
            isinstance(writer, BufferedMsgSpecWriter)
            and not self.partitions
            # Rows of a partitioned state would carry the partition's keys.
            and not self._get_state_partition_context(context)
            and self.selected
            and self.ABORT_AT_RECORD_COUNT is None
            and type(self).post_process is Stream.post_process
            and len(maps) == 1
            and type(maps[0]) is SameRecordTransform
            and maps[0].stream_alias == self.name
            and not maps[0].flattening_enabled
            and all(self.mask.values())
        )

    def flush_output(self) -> None:
        """Hand the RECORD lines written so far to stdout.

        For a stream whose rows come slowly: called before it waits for the next one, so
        that no row written already sits in the buffer behind the wait.
        """
        writer = self._tap.message_writer
        if isinstance(writer, BufferedMsgSpecWriter):
            writer.flush()

    def direct_rows(self, context: Context | None) -> Iterable[t.Any]:
        """The rows for the direct path.

        :meth:`get_records`' dicts, or structs msgspec encodes to the same JSON, with the
        replication key as an attribute.
        """
        return t.cast("Iterable[t.Any]", self.get_records(context))

    def _record_version(self) -> int | None:
        """The ``version`` the SDK puts in this stream's RECORD messages, if any.

        The one its ACTIVATE_VERSION announced, in a FULL_TABLE sync that sends them.
        """
        if not (self.replication_method == FULL_TABLE and self.emit_activate_version_messages):
            return None
        writer = t.cast("BufferedMsgSpecWriter", self._tap.message_writer)
        return writer.versions[self.name]

    def _advance_state(
        self, replication_key: str | None, latest: t.Any, context: Context | None
    ) -> None:
        """After rows were written: the bookmark moves to ``latest``, a STATE is due."""
        if replication_key and latest is not None:
            self.state_manager.increment_state(
                {replication_key: latest}, context=context, replication_key=replication_key
            )
        self.state_manager.is_flushed = False

    @override
    def _sync_records(
        self, context: Context | None = None, *, write_messages: bool = True
    ) -> Generator[dict[str, t.Any], t.Any, t.Any]:
        if not (write_messages and self.writes_directly(context)):
            yield from super()._sync_records(context, write_messages=write_messages)
            return
        writer = t.cast("BufferedMsgSpecWriter", self._tap.message_writer)
        try:
            with _fewer_garbage_collections():
                self.write_records_directly(writer, context)
        finally:
            writer.flush()

    def write_records_directly(
        self, writer: BufferedMsgSpecWriter, context: Context | None
    ) -> None:
        """The SDK's ``_sync_records`` for rows nothing changes, one buffer for all lines."""
        rows = iter(self.direct_rows(context))
        with self.get_record_counter() as counter, self.get_sync_timer() as timer:
            counter.with_context(context)
            timer.with_context(context)
            self._write_starting_replication_value(context)
            lines = _RecordLines(self.name, self._record_version())
            # A STATE message every STATE_MSG_FREQUENCY rows, as the SDK writes them.
            while count := self._write_rows(
                itertools.islice(rows, self.STATE_MSG_FREQUENCY), lines, writer, context
            ):
                counter.increment(count)
                if count == self.STATE_MSG_FREQUENCY:
                    self._write_state_message()
            # The SDK's own closing steps, for a stream or one context of it.
            if context == self._get_state_partition_context(context):
                self._finalize_state(self.get_context_state(context))
            if not context:
                self._finalize_state(self.stream_state)
            self._write_state_message()

    def _write_rows(
        self,
        rows: Iterable[t.Any],
        lines: _RecordLines,
        writer: BufferedMsgSpecWriter,
        context: Context | None,
    ) -> int:
        """Write ``rows`` (and their children first), then move the bookmark past them."""
        replication_key = self.replication_key if self.replication_method == INCREMENTAL else None
        # The SDK asks every row for child contexts, but syncs only the children that are
        # selected or have selected descendants: with none, asking changes nothing.
        has_children = any(
            child.selected or child.has_selected_descendents for child in self.child_streams
        )
        buffer, head, tail = writer.buffer, lines.head, lines.tail()
        encode_into = lines.encode_into
        latest: t.Any = None
        count = 0
        for row in rows:
            if has_children:  # as the SDK does: a row's children go out before it
                for child_context in self.generate_child_contexts(row, context):
                    writer.flush()
                    if count:  # the state the children write holds the rows before
                        self._advance_state(replication_key, latest, context)
                    self._sync_children(copy.copy(child_context))
            count += 1
            buffer += head
            encode_into(row, buffer, -1)
            buffer += tail
            if replication_key:
                value = (
                    row.get(replication_key)
                    if type(row) is dict
                    else getattr(row, replication_key, None)
                )
                if value is not None and (latest is None or value > latest):
                    latest = value
            if len(buffer) >= FLUSH_BYTES:
                writer.flush()
        if count:
            self._advance_state(replication_key, latest, context)
        return count
