"""Ids for export rows, and the URL they are derived from.

Exports carry no Pocket ids, so ids are derived (:func:`derive_item_id`,
:func:`derive_highlight_id`): ``"u"`` or ``"h"`` followed by :func:`digest`, the first 16
hex digits (64 bits) of the SHA-256 of the normalised URL (and, for highlights, quote and
time). Pocket's item ids are decimal numbers and its annotation ids UUIDs, so the two can
never collide, and the same URL gets the same id in the CSV and the HTML export of one
account. The id can be recomputed anywhere, e.g. in DuckDB:
``'u' || sha256(given_url)[1:16]``.
"""

from __future__ import annotations

import re
import typing as t
from hashlib import sha256
from html import unescape

from tap_pocket.timestamps import parse_iso_or_epoch

#: An entity reference with its ``;``. ``&region=`` in a URL is a query parameter, not
#: ``&reg;``: html.unescape alone would turn it into ``®ion=``.
_DERIVED_ID_LENGTH = 17  # "u" and 16 hex digits
_ENTITY_REFERENCE = re.compile(r"&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);")


def unescape_entities(text: str) -> str:
    """Decode ``&amp;``, ``&#039;``, … until none is left (``&amp;amp;`` leaks happen too).

    Only references ending in ``;`` are decoded; repeating makes it idempotent.
    """
    while "&" in text:
        decoded = _ENTITY_REFERENCE.sub(lambda match: unescape(match.group()), text)
        if decoded == text:
            break
        text = decoded
    return text


def normalise_url(url: str) -> str:
    """The URL as ids are derived from it: entity references decoded, whitespace stripped.

    The 2024-2025 CSV leaks ``&amp;`` into URLs while ril_export.html escapes properly,
    so decoding makes both give the same URL. Idempotent.
    """
    if "&" in url:
        url = unescape_entities(url)
    return url.strip()


def digest_bits(text: str) -> bytes:
    """The first 64 bits of the SHA-256 of ``text``: the one digest of export ids.

    Item ids are ``"u"`` and the digest of the normalised URL, highlight ids ``"h"`` and
    the digest of URL, quote and time, as 16 hex digits (:func:`digest`); sets of ids
    hold them as integers (``int.from_bytes(bits, "big")``, :func:`item_key`).
    """
    return sha256(text.encode("utf-8", "surrogatepass")).digest()[:8]


def digest(text: str) -> str:
    """:func:`digest_bits` as 16 hex digits."""
    return digest_bits(text).hex()


def item_key(item_id: str) -> int | str:
    """An ``item_id`` as a set of ids holds it: a derived id's 64 bits, a number, or the text.

    Integers take a fraction of the memory of the ids' text (a set of keys per item).
    """
    if len(item_id) == _DERIVED_ID_LENGTH and item_id[0] == "u":
        try:
            return int(item_id[1:], 16)
        except ValueError:
            return item_id
    return int(item_id) if item_id.isascii() and item_id.isdigit() else item_id


def derive_item_id(url: str) -> str:
    """The ``item_id`` of an export row: ``"u"`` + 16 hex digits of SHA-256(normalised URL).

    The URL is normalised first (:func:`normalise_url`), so ``a?x=1&amp;y=2`` and
    ``a?x=1&y=2`` share an id. The ``u`` keeps it apart from Pocket's numeric ids.
    """
    return "u" + digest(normalise_url(url))


def derive_highlight_id(url: str, quote: str | None, created_at: t.Any) -> str:
    """The ``highlight_id`` of an export highlight: ``"h"`` + 16 hex digits of SHA-256.

    Hashed: the normalised URL, the quote and the moment (``created_at`` as epoch seconds
    or ISO 8601, compared as the UTC time it names), separated by U+001F.
    """
    moment = parse_iso_or_epoch(created_at)
    if moment is None:
        moment = "" if created_at is None else str(created_at).strip()
    return "h" + digest("\x1f".join((normalise_url(url), quote or "", moment)))
