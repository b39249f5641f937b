"""Invalid UTF-8 in an export's text: counted while the text is decoded, described per row.

Pocket exports are UTF-8. Text is decoded ahead of parsing, in chunks, with the
:data:`ERRORS` handler: each invalid byte becomes a lone surrogate (U+DC80-U+DCFF) and
bumps :data:`DECODE_ERRORS`' count; so does each NUL byte read (valid UTF-8, but not
text: a sign of a damaged file). Rows are searched for those surrogates and NULs (slow)
only once the count has moved, so a clean file pays one integer comparison per row.
"""

from __future__ import annotations

import codecs
import re

#: The codec error handler's name, for ``open(..., errors=ERRORS)``.
ERRORS = "tap_pocket.export.invalid_utf8"
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]+")
_NUL = "\0"


class DecodeErrorCounter:
    """Counts invalid UTF-8 sequences met while decoding export text.

    The count says only that some invalid bytes were seen since a reader last looked;
    :func:`invalid_utf8_problem` finds them in a row's text.
    """

    def __init__(self) -> None:
        self.count = 0
        self._escape = codecs.lookup_error("surrogateescape")

    def __call__(self, error: UnicodeError) -> tuple[str, int]:
        """Count one invalid sequence; decode it as ``surrogateescape`` does."""
        self.count += 1
        replacement, resume_at = self._escape(error)
        return str(replacement), resume_at


DECODE_ERRORS = DecodeErrorCounter()
codecs.register_error(ERRORS, DECODE_ERRORS)


def invalid_utf8_problem(*texts: str) -> str | None:
    """The invalid bytes (or NULs) in decoded text, described; None if there are none."""
    for text in texts:
        if _NUL in text:
            return "a NUL character (byte 00): Pocket exports are text; is the file damaged?"
        found = _ESCAPED_BYTE.search(text)
        if found:
            shown = " ".join(f"{ord(ch) - 0xDC00:02x}" for ch in found.group()[:8])
            return (
                f"invalid UTF-8 (bytes {shown}): Pocket exports are UTF-8 text; "
                "was the file re-saved in another encoding?"
            )
    return None
