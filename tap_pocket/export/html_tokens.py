"""HTML text to start tags, end tags and text, as HTML's own tokenizer reads them.

ril_export.html is HTML, so where a tag ends, what its attributes are and whether it is
broken are HTML's to say, not a guess: this follows the tokenization states of the WHATWG
HTML standard (https://html.spec.whatwg.org/multipage/parsing.html#tokenization) that
decide them. In a tag: tag name, before and after attribute name, attribute name, before
attribute value, attribute value (double-quoted, single-quoted, unquoted), after
attribute value (quoted) and self-closing start tag, each with its parse errors. Around
tags: text, comments (``<!-- -->``, ``--!>``, ``<!-->``), DOCTYPE and bogus comments, and
the text of ``<title>``, ``<script>``, ``<style>`` and the other RCDATA and RAWTEXT
elements, in which no tag is read. So an attribute value may hold a line break, ``>``,
``<``, the other quote, character references and any other character, as HTML allows; a
tag is broken when reading it meets a parse error (its name in the standard is given in
:attr:`StartTag.error`), or when the file ends inside it.

On purpose, values and text are kept as written: character references are not decoded
and CR is not turned into LF, because the reader wants what Pocket stored and decodes it
as it decodes CSV fields (:func:`~tap_pocket.export.ids.normalise_url`). Not modelled,
as a Pocket export has none: foreign content (SVG, MathML) and the escapes of script
data. Line numbers count LF, CR and CRLF as one line break each, as HTML does.

Text is fed in chunks (:meth:`Tokenizer.feed`); a construct that does not end within the
text fed so far is held back (:attr:`Tokenizer.pending`) and read again with the next
chunk: the caller bounds it.
"""

from __future__ import annotations

import re
import string
import typing as t
from dataclasses import dataclass

if t.TYPE_CHECKING:
    from collections.abc import Iterator

#: Whitespace in tags: tab, LF, FF and space, and CR (which HTML's input stream makes LF).
_SPACE = "\t\n\f\r "
_SPACES = re.compile(r"[\t\n\f\r ]*")
_TAG_NAME = re.compile(r"[^\t\n\f\r />]*")
_ATTRIBUTE_NAME = re.compile(r"[^\t\n\f\r />=]*")
_UNQUOTED_VALUE = re.compile(r"[^\t\n\f\r >]*")
_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
#: Elements whose text is RCDATA, RAWTEXT or script data: no tag is read until their end tag.
_RAW_TEXT = frozenset(
    {"title", "textarea", "style", "xmp", "iframe", "noembed", "noframes", "script"}
)
_PLAINTEXT = "plaintext"  # the rest of the file is text

#: The parse errors of the tag states, as users are told them.
UNEXPECTED_CHARACTER_IN_ATTRIBUTE_NAME = "unexpected-character-in-attribute-name"
MISSING_WHITESPACE_BETWEEN_ATTRIBUTES = "missing-whitespace-between-attributes"
UNEXPECTED_EQUALS_SIGN_BEFORE_ATTRIBUTE_NAME = "unexpected-equals-sign-before-attribute-name"
MISSING_ATTRIBUTE_VALUE = "missing-attribute-value"
UNEXPECTED_CHARACTER_IN_UNQUOTED_ATTRIBUTE_VALUE = (
    "unexpected-character-in-unquoted-attribute-value"
)
UNEXPECTED_SOLIDUS_IN_TAG = "unexpected-solidus-in-tag"
DUPLICATE_ATTRIBUTE = "duplicate-attribute"


@dataclass(frozen=True)
class TagError:
    """A parse error met while reading a tag: its name in the standard, and where."""

    code: str
    attribute: str  # the attribute being read ("" if none)

    def describe(self) -> str:
        """The error as users read it."""
        name = repr(self.attribute[:40])
        what = {
            UNEXPECTED_CHARACTER_IN_ATTRIBUTE_NAME: f"a quote or '<' in the attribute name {name}",
            MISSING_WHITESPACE_BETWEEN_ATTRIBUTES: (
                f"no space between the value of {name} and what follows it"
            ),
            UNEXPECTED_EQUALS_SIGN_BEFORE_ATTRIBUTE_NAME: "an '=' where an attribute name starts",
            MISSING_ATTRIBUTE_VALUE: f"the attribute {name} has '=' but no value",
            UNEXPECTED_CHARACTER_IN_UNQUOTED_ATTRIBUTE_VALUE: (
                f"a quote, '<', '=' or '`' in the unquoted value of {name}"
            ),
            UNEXPECTED_SOLIDUS_IN_TAG: "a '/' inside the tag",
            DUPLICATE_ATTRIBUTE: f"the attribute {name} is given twice",
        }[self.code]
        return f"{what} (HTML parse error {self.code})"


@dataclass(slots=True)
class StartTag:
    """``<name attributes>``: the first value of each attribute, as written."""

    name: str
    line: int
    attributes: dict[str, str]
    #: The first parse error met in the tag: HTML says the tag is broken.
    error: TagError | None = None


@dataclass(slots=True)
class EndTag:
    """``</name>``."""

    name: str
    line: int


@dataclass(slots=True)
class Text:
    """Text between tags, as written; ``line`` is where it starts."""

    text: str
    line: int


Token: t.TypeAlias = StartTag | EndTag | Text


class Tokenizer:
    """Reads HTML fed in chunks into :data:`Token` values, holding back what is unfinished."""

    def __init__(self) -> None:
        self._buffer = ""
        #: The line of ``_buffer[0]``.
        self.line = 1
        self._after_cr = False  # the text counted last ended with CR (CRLF may be split)
        self._ends_with_break = False  # the text fed last ended with a line break
        self._raw_end: re.Pattern[str] | None = None  # inside an RCDATA/RAWTEXT element
        self._raw_name = ""
        self._plaintext = False
        #: What the text held back is: "a tag", "a comment", ... ("" if nothing).
        self.unfinished = ""

    @property
    def pending(self) -> int:
        """Characters held back: an unfinished tag, comment or the like."""
        return len(self._buffer)

    def skip_pending(self) -> None:
        """Drop the text held back (after a tag over its cap); count its lines."""
        self._count(self._buffer)
        self._buffer = ""
        self.unfinished = ""

    def at_end(self) -> str | None:
        """Where the text fed so far ends, if not between two tokens: "inside a tag"..."""
        if self._raw_end is not None:
            return f"inside the text of a <{self._raw_name}> element"
        if self._buffer:
            return f"inside {self.unfinished}"
        return None

    def last_line(self) -> int:
        """The line the text fed so far ends on (a final line break ends it)."""
        line = self.line + _line_breaks(self._buffer)
        return max(1, line - 1) if self._ends_with_break else line

    def feed(self, chunk: str) -> Iterator[Token]:
        """The tokens that end in the text fed so far; the rest waits for more.

        Each token is read before the next chunk is fed (the tokens are made as they go).
        """
        if chunk:
            self._ends_with_break = chunk[-1] in "\r\n"
        buffer = self._buffer + chunk
        self._buffer = ""
        self.unfinished = ""
        size = len(buffer)
        at = 0
        while at < size:
            if self._plaintext:
                yield self._text(buffer[at:])
                return
            if self._raw_end is not None:
                end = self._raw_end.search(buffer, at)
                if end is None:  # keep what may be the start of the end tag
                    keep = max(at, size - len(self._raw_name) - 2)
                    self._count(buffer[at:keep])
                    self._buffer = buffer[keep:]
                    return
                self._count(buffer[at : end.start()])
                self._raw_end = None
                at = end.start()
            less = buffer.find("<", at)
            if less != at:
                stop = size if less < 0 else less
                yield self._text(buffer[at:stop])
                at = stop
                continue
            found = self._markup(buffer, at)
            if found is None:
                self._buffer = buffer[at:]
                return
            stop, token = found
            self._count(buffer[at:stop])
            at = stop
            if token is not None:
                if isinstance(token, StartTag):
                    self._enter(token.name)
                yield token

    def _text(self, text: str) -> Text:
        token = Text(text, self.line)
        self._count(text)
        return token

    def _enter(self, name: str) -> None:
        """After a start tag: the text of RCDATA and RAWTEXT elements holds no tags."""
        if name in _RAW_TEXT:
            self._raw_name = name
            self._raw_end = re.compile(rf"</{name}[\t\n\f\r />]", re.IGNORECASE)
        elif name == _PLAINTEXT:
            self._plaintext = True

    def _count(self, text: str) -> None:
        """Move :attr:`line` past ``text``: LF, CR and CRLF each end a line."""
        if not text:
            return
        if not self._after_cr and "\r" not in text:  # LF line ends, or none
            self.line += text.count("\n")
            return
        breaks = _line_breaks(text)
        if self._after_cr and text[0] == "\n":
            breaks -= 1  # the LF of a CRLF split between two pieces
        self.line += breaks
        self._after_cr = text[-1] == "\r"

    def _markup(self, buffer: str, at: int) -> tuple[int, Token | None] | None:  # noqa: PLR0911
        """What starts with the ``<`` at ``at``: (where it ends, its token or None).

        None if it does not end within ``buffer``.
        """
        size = len(buffer)
        if at + 1 >= size:
            self.unfinished = "a tag"
            return None
        second = buffer[at + 1]
        if second.isascii() and second.isalpha():
            return self._plain_tag(buffer, at) or self._tag(buffer, at, at + 1)
        if second == "/":
            if at + 2 >= size:
                self.unfinished = "a tag"
                return None
            third = buffer[at + 2]
            if third.isascii() and third.isalpha():
                return self._plain_tag(buffer, at) or self._tag(buffer, at, at + 2)
            if third == ">":  # missing-end-tag-name: nothing
                return at + 3, None
            return self._until(buffer, at, ">", "a tag")  # bogus comment
        if second == "!":
            return self._declaration(buffer, at)
        if second == "?":
            return self._until(buffer, at, ">", "a tag")  # bogus comment
        return at + 1, Text("<", self.line)  # invalid-first-character-of-tag-name: text

    def _declaration(self, buffer: str, at: int) -> tuple[int, Token | None] | None:
        """``<!``: a comment, or a DOCTYPE or bogus comment (both end at ``>``)."""
        opening = buffer[at : at + 4]
        if opening == "<!--":
            end = _comment_end(buffer, at + 4)
            if end is None:
                self.unfinished = "a comment"
                return None
            return end, None
        if "<!--".startswith(opening):  # "<!" or "<!-" at the end of the text so far
            self.unfinished = "a comment"
            return None
        return self._until(buffer, at, ">", "a tag")

    def _until(
        self, buffer: str, at: int, end: str, unfinished: str
    ) -> tuple[int, Token | None] | None:
        stop = buffer.find(end, at)
        if stop < 0:
            self.unfinished = unfinished
            return None
        return stop + len(end), None

    def _plain_tag(self, buffer: str, at: int) -> tuple[int, Token] | None:
        """The tag at ``at`` read at once, if it is a plain one; else None (see :meth:`_tag`).

        Plain: it ends at the first ``>`` within :data:`_PLAIN_TAG_CHARS` and HTML reads it
        without a parse error (each attribute after whitespace, a name without ``"'<=``, a
        quoted value or an unquoted one without ``"'<=`` and backquote, each name once):
        what the states of :meth:`_tag` would give, found by two regular expressions.
        """
        end = buffer.find(">", at, at + _PLAIN_TAG_CHARS)
        tag = None if end < 0 else _PLAIN_TAG.fullmatch(buffer, at, end + 1)
        if tag is None:
            return None
        name = tag["name"].translate(_LOWER)
        if tag["end"]:
            return end + 1, EndTag(name, self.line)
        attributes: dict[str, str] = {}
        for attribute, double, single, bare in _PLAIN_ATTRIBUTE.findall(tag["attributes"]):
            key = attribute.translate(_LOWER)
            if key in attributes:
                return None  # duplicate-attribute: read by the states, which say so
            attributes[key] = double or single or bare
        return end + 1, StartTag(name, self.line, attributes)

    def _tag(  # noqa: C901, PLR0912 - the states of a tag, in order
        self, buffer: str, at: int, name_at: int
    ) -> tuple[int, Token | None] | None:
        """The start or end tag at ``at``; its name starts at ``name_at``."""
        self.unfinished = "a tag"
        size = len(buffer)
        name_end = _skip(_TAG_NAME, buffer, name_at)
        name = buffer[name_at:name_end].translate(_LOWER)
        attributes: dict[str, str] = {}
        error: TagError | None = None
        position = name_end
        while True:
            # before attribute name (and after attribute value, self-closing start tag)
            position = _skip(_SPACES, buffer, position)
            if position >= size:
                return None
            char = buffer[position]
            if char == ">":
                break
            if char == "/":
                if position + 1 >= size:
                    return None
                if buffer[position + 1] == ">":
                    position += 1
                    break
                error = error or TagError(UNEXPECTED_SOLIDUS_IN_TAG, "")
                position += 1
                continue
            position, attribute, code = _attribute_name(buffer, position)
            if code is not None:
                error = error or TagError(code, attribute)
            # after attribute name
            position = _skip(_SPACES, buffer, position)
            if position >= size:
                return None
            value = ""
            if buffer[position] == "=":
                read = _attribute_value(buffer, position + 1)
                if read is None:
                    return None
                position, value, code = read
                if code is not None:
                    error = error or TagError(code, attribute)
            if attribute in attributes:
                error = error or TagError(DUPLICATE_ATTRIBUTE, attribute)
            else:
                attributes[attribute] = value
        self.unfinished = ""
        if name_at == at + 2:
            return position + 1, EndTag(name, self.line)
        return position + 1, StartTag(name, self.line, attributes, error)


def _attribute_name(buffer: str, at: int) -> tuple[int, str, str | None]:
    """The attribute name at ``at``: where it ends, the name (lower-cased), its parse error."""
    code = None
    end = at
    if buffer[at] == "=":
        code = UNEXPECTED_EQUALS_SIGN_BEFORE_ATTRIBUTE_NAME
        end += 1
    end = _skip(_ATTRIBUTE_NAME, buffer, end)
    name = buffer[at:end].translate(_LOWER)
    if code is None and any(char in name for char in "\"'<"):
        code = UNEXPECTED_CHARACTER_IN_ATTRIBUTE_NAME
    return end, name, code


def _attribute_value(buffer: str, at: int) -> tuple[int, str, str | None] | None:
    """The value after an attribute's ``=``: where it ends, the value, its parse error.

    None if it does not end within ``buffer`` (nor does the tag, then).
    """
    size = len(buffer)
    at = _skip(_SPACES, buffer, at)  # before attribute value
    if at >= size:
        return None
    quote = buffer[at]
    if quote in "\"'":
        close = buffer.find(quote, at + 1)
        if close < 0 or close + 1 >= size:
            return None
        # after attribute value (quoted)
        after = buffer[close + 1]
        code = None if after in _AFTER_QUOTED_VALUE else MISSING_WHITESPACE_BETWEEN_ATTRIBUTES
        return close + 1, buffer[at + 1 : close], code
    if quote == ">":
        return at, "", MISSING_ATTRIBUTE_VALUE
    end = _skip(_UNQUOTED_VALUE, buffer, at)
    if end >= size:
        return None
    value = buffer[at:end]
    code = (
        UNEXPECTED_CHARACTER_IN_UNQUOTED_ATTRIBUTE_VALUE
        if any(char in value for char in "\"'<=`")
        else None
    )
    return end, value, code


def _comment_end(buffer: str, start: int) -> int | None:
    """Where the comment whose text starts at ``start`` (after ``<!--``) ends, if it does."""
    if buffer.startswith(">", start):  # abrupt-closing-of-empty-comment
        return start + 1
    if buffer.startswith("->", start):
        return start + 2
    end = _COMMENT_END.search(buffer, start)
    return None if end is None else end.end()


#: A plain tag (see :meth:`Tokenizer._plain_tag`) is looked for in at most so many characters.
_PLAIN_TAG_CHARS = 4096
_S = r"[\t\n\f\r ]"
_PLAIN_ATTRIBUTE_TEXT = (
    rf"{_S}+([^\t\n\f\r />=\"'<][^\t\n\f\r />=\"'<]*)"
    rf"(?:{_S}*={_S}*(?:\"([^\"]*)\"|'([^']*)'|([^\t\n\f\r >\"'<=`]+)))?"
)
_PLAIN_TAG = re.compile(
    rf"<(?P<end>/?)(?P<name>[A-Za-z][^\t\n\f\r />]*)"
    rf"(?P<attributes>(?:{_PLAIN_ATTRIBUTE_TEXT})*){_S}*/?>"
)
_PLAIN_ATTRIBUTE = re.compile(_PLAIN_ATTRIBUTE_TEXT)


def _line_breaks(text: str) -> int:
    """LF, CR and CRLF in ``text``, each one line break."""
    return text.count("\n") + text.count("\r") - text.count("\r\n")


def _skip(pattern: re.Pattern[str], text: str, at: int) -> int:
    """Where ``pattern`` (which also matches nothing) stops matching from ``at``."""
    found = pattern.match(text, at)
    return at if found is None else found.end()


_COMMENT_END = re.compile(r"--!?>")
_AFTER_QUOTED_VALUE = frozenset(_SPACE + "/>")
