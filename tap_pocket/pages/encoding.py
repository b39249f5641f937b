"""A page's bytes as text, decoded as browsers decode them.

The order is the HTML standard's "determine the character encoding" with the WHATWG
Encoding Standard's labels (https://encoding.spec.whatwg.org/):

1. a byte-order mark (it wins over everything else);
2. the answer's ``Content-Type`` charset, when it is a label the standard knows;
3. the ``<meta>`` prescan of the first 1024 bytes (``<meta charset>`` and
   ``<meta http-equiv="content-type" content="...; charset=...">``);
4. else: UTF-8 when the bytes are valid UTF-8, else what charset_normalizer detects, else
   windows-1252.

Labels map as the standard says: ``ISO-8859-1``, ``latin1`` and ``US-ASCII`` name
windows-1252, whose bytes 0x80-0x9F are its quotes, dashes and euro sign (the five bytes
it leaves undefined stay the C1 controls browsers give them). Bytes an encoding cannot
decode become U+FFFD, as in a browser: decoding never fails.
"""

from __future__ import annotations

import codecs
import typing as t

from tap_pocket.pages.encoding_tables import LABELS, SINGLE_BYTE

BOMS = ((b"\xef\xbb\xbf", "UTF-8"), (b"\xfe\xff", "UTF-16BE"), (b"\xff\xfe", "UTF-16LE"))
#: The Python codec that decodes each multi-byte encoding as the standard does.
PYTHON_CODECS = {
    "UTF-8": "utf-8",
    "GBK": "gb18030",  # the standard's GBK decoder is its gb18030 decoder
    "gb18030": "gb18030",
    "Big5": "big5hkscs",
    "EUC-JP": "euc_jp",
    "ISO-2022-JP": "iso2022_jp",
    "Shift_JIS": "cp932",
    "EUC-KR": "cp949",
    "UTF-16BE": "utf-16-be",
    "UTF-16LE": "utf-16-le",
}
#: Decoding tables for ``codecs.charmap_decode``: ASCII, then the standard's index.
_CHARMAPS = {name: "".join(map(chr, range(128))) + high for name, high in SINGLE_BYTE.items()}
# The standard decodes ISO-8859-8-I (logical order) with ISO-8859-8's index.
_CHARMAPS["ISO-8859-8-I"] = _CHARMAPS["ISO-8859-8"]
PRESCAN_BYTES = 1024
#: How much of an undeclared, non-UTF-8 body the detector reads.
DETECT_BYTES = 64 * 1024
_SPACE = b"\t\n\x0c\r "
_SPACE_OR_SLASH = _SPACE + b"/"
Source = t.Literal["bom", "header", "meta", "detected"]


def encoding_for(label: str | None) -> str | None:
    """The standard's name of the encoding ``label`` names, None for an unknown label."""
    if label is None:
        return None
    return LABELS.get(label.strip("\t\n\x0c\r ").lower())


def sniff(body: bytes, charset: str | None) -> tuple[str, Source]:
    """The encoding of ``body`` (the standard's name) and where it came from."""
    for bom, name in BOMS:
        if body.startswith(bom):
            return name, "bom"
    declared = encoding_for(charset)
    if declared is not None:
        return declared, "header"
    found = prescan(body[:PRESCAN_BYTES])
    if found is not None:
        return found, "meta"
    return detect(body), "detected"


def decode(body: bytes, charset: str | None) -> str:
    """``body`` as text, by :func:`sniff`'s encoding, undecodable bytes as U+FFFD."""
    name, source = sniff(body, charset)
    if source == "bom":
        body = body[len(next(bom for bom, bom_name in BOMS if bom_name == name)) :]
    return decode_as(body, name)


def decode_as(body: bytes, name: str) -> str:
    """``body`` decoded with the standard's encoding ``name``."""
    charmap = _CHARMAPS.get(name)
    if charmap is not None:
        return codecs.charmap_decode(body, "replace", charmap)[0]
    if name == "replacement":  # labels of encodings browsers refuse (ISO-2022-KR, HZ...)
        return "\ufffd" if body else ""
    return body.decode(PYTHON_CODECS[name], "replace")


def detect(body: bytes) -> str:
    """The encoding of a body that declares none: UTF-8 if valid, else detected."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return "UTF-8"
    from charset_normalizer import from_bytes

    best = from_bytes(body[:DETECT_BYTES]).best()
    if best is not None:
        python_name = codecs.lookup(best.encoding).name
        found = _BY_PYTHON_CODEC.get(python_name) or encoding_for(python_name.replace("_", "-"))
        if found is not None and found != "replacement":
            return found
    return "windows-1252"


def _python_codec(name: str) -> str | None:
    """The Python codec of the standard's encoding ``name`` (single-byte ones included)."""
    for candidate in (PYTHON_CODECS.get(name), name, name.replace("windows-", "cp")):
        try:
            return codecs.lookup(candidate or "").name
        except LookupError:  # noqa: PERF203 - the next candidate
            continue
    return None


#: The standard's encoding for a Python codec name (what charset_normalizer answers).
_BY_PYTHON_CODEC = {
    codec: name
    for name in (*PYTHON_CODECS, *SINGLE_BYTE)
    if (codec := _python_codec(name)) is not None
}


# -- the HTML standard's prescan of a byte stream ("prescan a byte stream to determine its
# encoding"), step by step as written there.


def prescan(head: bytes) -> str | None:
    """The encoding a ``<meta>`` in ``head`` (the first 1024 bytes) declares, or None."""
    position, end = 0, len(head)
    while position < end:
        if head.startswith(b"<!--", position):
            close = head.find(b"-->", position + 2)
            if close < 0:
                return None
            position = close + 3
            continue
        if head[position : position + 5].lower() == b"<meta" and (
            head[position + 5 : position + 6] in _SPACE_OR_SLASH and position + 5 < end
        ):
            found, position = _meta(head, position + 6)
            if found is not None:
                return found
            continue
        if _is_tag_start(head, position):
            position = _skip_tag(head, position)
            continue
        if head[position : position + 2] in {b"<!", b"</", b"<?"}:
            close = head.find(b">", position + 2)
            if close < 0:
                return None
            position = close + 1
            continue
        position += 1
    return None


def _is_tag_start(head: bytes, position: int) -> bool:
    start = position + 2 if head.startswith(b"</", position) else position + 1
    return head[position : position + 1] == b"<" and head[start : start + 1].isalpha()


def _skip_tag(head: bytes, position: int) -> int:
    while position < len(head) and head[position : position + 1] not in _SPACE + b">":
        position += 1
    while True:
        attribute, position = _attribute(head, position)
        if attribute is None:
            return position + 1


def _meta(head: bytes, position: int) -> tuple[str | None, int]:  # noqa: C901 - the standard's steps
    """One ``<meta`` tag from after its name: (the encoding it declares, where it ends)."""
    seen: set[bytes] = set()
    got_pragma = False
    need_pragma: bool | None = None
    charset: str | None = None
    while True:
        attribute, position = _attribute(head, position)
        if attribute is None:
            break
        name, value = attribute
        if name in seen:
            continue
        seen.add(name)
        if name == b"http-equiv":
            got_pragma = got_pragma or value == b"content-type"
        elif name == b"content" and charset is None:
            label = _charset_in_content(value)
            if label is not None:
                charset = encoding_for(label.decode("latin-1"))
                need_pragma = True
        elif name == b"charset":
            charset = encoding_for(value.decode("latin-1"))
            need_pragma = False
    position += 1
    if need_pragma is None or (need_pragma and not got_pragma) or charset is None:
        return None, position
    if charset in {"UTF-16BE", "UTF-16LE"}:
        return "UTF-8", position
    if charset == "x-user-defined":
        return "windows-1252", position
    return charset, position


def _attribute(  # noqa: C901, PLR0911, PLR0912 - the standard's steps
    head: bytes, position: int
) -> tuple[tuple[bytes, bytes] | None, int]:
    """The standard's "get an attribute": ((name, value) or None, the new position)."""
    end = len(head)
    while position < end and head[position] in _SPACE_OR_SLASH:
        position += 1
    if position >= end or head[position] == ord(">"):
        return None, position
    name, value = bytearray(), bytearray()
    while True:
        if position >= end:
            return None, position
        byte = head[position]
        if byte == ord("=") and name:
            position += 1
            break
        if byte in _SPACE:
            while position < end and head[position] in _SPACE:
                position += 1
            if position >= end or head[position] != ord("="):
                return (bytes(name), b""), position
            position += 1
            break
        if byte in b"/>":
            return (bytes(name), b""), position
        name.append(_lower(byte))
        position += 1
    while position < end and head[position] in _SPACE:
        position += 1
    if position >= end:
        return None, position
    byte = head[position]
    if byte in b"\"'":
        quote = byte
        while True:
            position += 1
            if position >= end:
                return None, position
            if head[position] == quote:
                return (bytes(name), bytes(value)), position + 1
            value.append(_lower(head[position]))
    if byte == ord(">"):
        return (bytes(name), b""), position
    while position < end and head[position] not in _SPACE + b">":
        value.append(_lower(head[position]))
        position += 1
    if position >= end:
        return None, position
    return (bytes(name), bytes(value)), position


def _lower(byte: int) -> int:
    return byte + 0x20 if 0x41 <= byte <= 0x5A else byte  # noqa: PLR2004 - A-Z


def _charset_in_content(content: bytes) -> bytes | None:
    """The standard's "extracting a character encoding from a meta element"."""
    position = 0
    while True:
        found = content.find(b"charset", position)
        if found < 0:
            return None
        position = found + 7
        while position < len(content) and content[position] in _SPACE:
            position += 1
        if content[position : position + 1] == b"=":
            break
    position += 1
    while position < len(content) and content[position] in _SPACE:
        position += 1
    if position >= len(content):
        return None
    first = content[position : position + 1]
    if first in {b'"', b"'"}:
        close = content.find(first, position + 1)
        return None if close < 0 else content[position + 1 : close]
    stop = position
    while stop < len(content) and content[stop] not in _SPACE + b";":
        stop += 1
    return content[position:stop]
