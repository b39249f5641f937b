"""Writing Singer messages fast: one output buffer, and RECORD lines encoded directly.

The SDK sends every record through a per-record pipeline (selection mask, type
conformance, stream maps, a message object, a state update, a flush of stdout) that costs
more than reading and building the row itself. When none of those steps can change a
row (all properties selected, no stream maps or flattening, no dry-run limit), the
rows of a stream are encoded straight into RECORD lines instead; anything else takes
the SDK's own path. Either way the lines are the same.
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
from singer_sdk.singerlib import SchemaMessage, StateMessage

if t.TYPE_CHECKING:
    from collections.abc import Generator, Iterable, Iterator

    from singer_sdk.helpers.types import Context
    from singer_sdk.singerlib.encoding.simple import Message

#: Records are handed to stdout in chunks of about this size, not one write each.
FLUSH_BYTES = 1 << 18


class BufferedMsgSpecWriter(MsgSpecWriter):
    """msgspec's Singer writer, with a buffer that direct RECORD lines share.

    Messages written through the SDK are flushed at once, as the SDK's writers do; the
    buffer only ever holds lines from :meth:`DirectRecordsStream._sync_records`, which
    flushes it every :data:`FLUSH_BYTES` and before any other message goes out, so the
    order of messages on stdout is the order they were produced in.
    """

    def __init__(self) -> None:
        self.buffer = bytearray()

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

    def write_message(self, message: Message) -> None:
        self.buffer += self.format_message(message)
        self.flush()

    def flush(self) -> None:
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
    global _syncs_running  # a child stream syncs inside its parent's sync: outermost only
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


def _time_extracted_tail() -> bytes:
    """The end of a RECORD line: ``time_extracted`` as the SDK's msgspec writer puts it."""
    now = msgspec.json.encode(datetime.now(timezone.utc))
    return b',"time_extracted":' + now + b"}\n"


class DirectRecordsStream(Stream):
    """A stream whose rows, when nothing would change them, are written as RECORD lines
    directly; the SDK's record path is taken otherwise."""

    def writes_directly(self, context: Context | None) -> bool:
        writer = self._tap.message_writer
        maps = self.stream_maps
        return (
            isinstance(writer, BufferedMsgSpecWriter)
            and not self.partitions
            # Rows of a partitioned state would carry the partition's keys.
            and not self._get_state_partition_context(context)
            and self.selected
            and self.ABORT_AT_RECORD_COUNT is None
            and len(maps) == 1
            and type(maps[0]) is SameRecordTransform
            and maps[0].stream_alias == self.name
            and not maps[0].flattening_enabled
            and all(self.mask.values())
        )

    def direct_rows(self, context: Context | None) -> Iterable[t.Any]:
        """The rows for the direct path: :meth:`get_records`' dicts, or objects msgspec
        encodes to the same JSON (structs), with the replication key as an attribute."""
        return t.cast("Iterable[t.Any]", self.get_records(context))

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
        replication_key = self.replication_key or ""
        has_children = bool(self.child_streams)
        head = msgspec.json.encode({"type": "RECORD", "stream": self.name})[:-1] + b',"record":'
        encode_into = msgspec.json.Encoder().encode_into
        buffer = writer.buffer
        rows = iter(self.direct_rows(context))
        with self.get_record_counter() as counter, self.get_sync_timer() as timer:
            counter.with_context(context)
            timer.with_context(context)
            self._write_starting_replication_value(context)
            # A STATE message every STATE_MSG_FREQUENCY rows, as the SDK writes them.
            while True:
                tail = _time_extracted_tail()
                latest: t.Any = None
                count = 0
                for row in itertools.islice(rows, self.STATE_MSG_FREQUENCY):
                    count += 1
                    if has_children:  # as the SDK does: a row's children go out before it
                        for child_context in self.generate_child_contexts(row, context):
                            writer.flush()
                            self._sync_children(copy.copy(child_context))
                    buffer += head
                    encode_into(row, buffer, -1)
                    buffer += tail
                    if replication_key:
                        if type(row) is dict:
                            value = row.get(replication_key)
                        else:
                            value = getattr(row, replication_key, None)
                        if value is not None and (latest is None or value > latest):
                            latest = value
                    if len(buffer) >= FLUSH_BYTES:
                        writer.flush()
                if not count:
                    break
                counter.increment(count)
                if latest is not None:
                    self.state_manager.increment_state(
                        {replication_key: latest}, context=context, replication_key=replication_key
                    )
                self.state_manager.is_flushed = False
                if count == self.STATE_MSG_FREQUENCY:
                    self._write_state_message()
            # The SDK's own closing steps, for a stream or one context of it.
            if context == self._get_state_partition_context(context):
                self._finalize_state(self.get_context_state(context))
            if not context:
                self._finalize_state(self.stream_state)
            self._write_state_message()
