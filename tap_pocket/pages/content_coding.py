"""Content-Encoding, decoded by the tap itself: one layer, in bounded steps.

httpx would decode every listed coding with no limit on what comes out, before the
size limit is looked at: a 1,827-byte answer sent as ``gzip, gzip`` inflates to
gigabytes. So the fetcher reads the raw bytes and decodes them here:

- at most ONE coding (``gzip``, ``deflate``, ``br`` or ``zstd``; ``identity`` is none):
  an answer that stacks two or more, or names one the tap does not know, is refused
  (:class:`UnsupportedCoding`);
- each step hands back at most :data:`STEP` bytes of output, so the reader can stop as
  soon as it has what it wants (``fetch_max_bytes``, or robots.txt's limit) and let the
  deadline cut in between steps: memory and time are bounded by that limit, whatever
  the answer inflates to.

zstd's window is limited to 8 MiB (RFC 9659: what an HTTP client has to accept). Its
decoder is Python's own (``compression.zstd``, 3.14+), or its backport on older Pythons
(``backports.zstd``: about 1 MB installed, where ``zstandard``, which httpx would use, is
24 MB with its two backends).
"""

from __future__ import annotations

import sys
import typing as t
import zlib

if t.TYPE_CHECKING:
    from collections.abc import Iterator
    from types import ModuleType

#: What the fetcher asks for (Accept-Encoding): the codings decoded here.
ACCEPT_ENCODING = "gzip, deflate, br, zstd"
#: Most bytes of decoded output handed back by one step.
STEP = 256 * 1024
#: zstd's largest window accepted, as a power of 2: 8 MiB.
_ZSTD_WINDOW_LOG_MAX = 23


class UnsupportedCoding(Exception):  # noqa: N818 - an answer the tap does not read
    """The answer stacks content codings, or uses one the tap does not decode."""


class CorruptBody(Exception):  # noqa: N818 - a property of the answer
    """The body is not valid data in its content coding."""


class Decoder(t.Protocol):
    """One content coding, decoded incrementally."""

    def decode(self, data: bytes) -> Iterator[bytes]:
        """The output ``data`` gives, in pieces of at most :data:`STEP` bytes."""
        ...


class _Identity:
    def decode(self, data: bytes) -> Iterator[bytes]:
        for start in range(0, len(data), STEP):
            yield data[start : start + STEP]


class _Zlib:
    """gzip (any number of members, as browsers read it) or deflate (zlib or raw)."""

    def __init__(self, *, gzip: bool) -> None:
        self._gzip = gzip
        # deflate is meant to be zlib-wrapped; some servers send it raw.
        self._wbits = zlib.MAX_WBITS | 16 if gzip else zlib.MAX_WBITS
        self._inflate = zlib.decompressobj(self._wbits)
        self._started = False
        self._ended = False

    def decode(self, data: bytes) -> Iterator[bytes]:
        while data and not self._ended:
            try:
                out = self._inflate.decompress(data, STEP)
            except zlib.error as exc:
                if self._gzip or self._started:
                    raise CorruptBody(str(exc)) from exc
                # Not zlib-wrapped: raw deflate from the first byte.
                self._wbits = -zlib.MAX_WBITS
                self._inflate = zlib.decompressobj(self._wbits)
                self._started = True
                continue
            self._started = True
            data = self._inflate.unconsumed_tail
            if out:
                yield out
            if self._inflate.eof:
                data = self._inflate.unused_data
                if self._gzip and data[:2] == b"\x1f\x8b":  # another gzip member follows
                    self._inflate = zlib.decompressobj(self._wbits)
                else:
                    self._ended = True
            elif not out and not data:
                return
        # Output the last call held back (its input was all consumed).
        try:
            while not self._ended and (out := self._inflate.decompress(b"", STEP)):
                yield out
        except zlib.error as exc:
            raise CorruptBody(str(exc)) from exc


class _Brotli:
    def __init__(self) -> None:
        import brotli  # type: ignore[import-untyped]  # no stubs or py.typed

        self._error = brotli.error
        self._decompressor = brotli.Decompressor()

    def decode(self, data: bytes) -> Iterator[bytes]:
        decompressor = self._decompressor
        try:
            while not decompressor.is_finished():
                out = decompressor.process(data, output_buffer_limit=STEP)
                data = b""  # taken in; what it holds back comes with empty input
                if not out:
                    return
                yield out
        except self._error as exc:
            raise CorruptBody(str(exc)) from exc


def zstd_module() -> ModuleType:
    """Python's zstd module: ``compression.zstd`` from 3.14, ``backports.zstd`` before."""
    if sys.version_info >= (3, 14):
        from compression import zstd
    else:
        from backports import zstd
    return zstd


class _Zstd:
    """zstd, any number of frames, as many as the body holds."""

    def __init__(self) -> None:
        self._zstd = zstd_module()
        self._error = self._zstd.ZstdError
        self._frame = self._new_frame()

    def _new_frame(self) -> t.Any:
        window = self._zstd.DecompressionParameter.window_log_max
        return self._zstd.ZstdDecompressor(options={window: _ZSTD_WINDOW_LOG_MAX})

    def decode(self, data: bytes) -> Iterator[bytes]:
        try:
            while data or not self._frame.needs_input:
                if self._frame.eof:  # the next frame (or junk, refused as such)
                    if not data:
                        return
                    self._frame = self._new_frame()
                # The decoder keeps the input it has not decoded yet; the output of one
                # call is at most STEP bytes.
                out = self._frame.decompress(data, STEP)
                data = self._frame.unused_data if self._frame.eof else b""
                if out:
                    yield out
        except self._error as exc:
            raise CorruptBody(str(exc)) from exc


_DECODERS: dict[str, t.Callable[[], Decoder]] = {
    "gzip": lambda: _Zlib(gzip=True),
    "x-gzip": lambda: _Zlib(gzip=True),
    "deflate": lambda: _Zlib(gzip=False),
    "br": _Brotli,
    "zstd": _Zstd,
}


def decoder_for(header: str | None) -> Decoder:
    """The decoder of a Content-Encoding header; raises :class:`UnsupportedCoding`."""
    codings = [
        coding
        for coding in (part.strip().lower() for part in (header or "").split(","))
        if coding and coding != "identity"
    ]
    if not codings:
        return _Identity()
    if len(codings) > 1:
        msg = f"stacked content codings: {', '.join(codings)}"
        raise UnsupportedCoding(msg)
    make = _DECODERS.get(codings[0])
    if make is None:
        msg = f"unknown content coding: {codings[0]}"
        raise UnsupportedCoding(msg)
    return make()
