"""Secrets kept out of everything the tap writes, whatever the text came from.

A server may quote the credentials it was sent (``X-Error: Invalid token AT-… for key
CK-…``), an exception may hold a proxy's URL with its password, a traceback at DEBUG
repeats them all. Rather than trusting each message, one :data:`REDACTOR` replaces every
secret it knows with its name, ``<access_token>``, where the tap's text leaves the
process:

* ``sys.stderr`` (and ``sys.stdout`` for ``tap-pocket auth``, which prints only text) is
  replaced, from the start of the command, by a :class:`RedactingStream`: the SDK's log
  handler writes to it, and so do tracebacks, click's error messages and warnings;
* any other log handler (a file named by ``SINGER_SDK_LOG_CONFIG``, say) gets a
  :class:`RedactingFormatter` around its formatter.

The secrets are each setting the settings' schema marks ``secret`` (``consumer_key``,
``access_token``), ``auth``'s ``--consumer-key``, and the password of a proxy set in the
environment; each also as it appears escaped in URLs and JSON. The tap's Singer messages
on stdout are data, not text about it: they are left as they are (STATE never holds a
setting).
"""

from __future__ import annotations

import io
import json
import logging
import re
import sys
import threading
import typing as t
import urllib.request
from urllib.parse import quote, quote_plus, urlsplit

from typing_extensions import override

from tap_pocket.settings import SHORTEST_SECRET_TEXT

if t.TYPE_CHECKING:
    from collections.abc import Iterable


class Redactor:
    """The secrets to hide, and what hides them."""

    def __init__(self) -> None:
        self._names: dict[str, str] = {}
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()
        #: Whether the command's output goes through it (:func:`redact_output`).
        self.active = False

    def protect(self, name: str, texts: Iterable[str]) -> None:
        """Hide each of ``texts`` (and its escaped forms) as ``<name>`` from now on."""
        with self._lock:
            for text in texts:
                if len(text) < SHORTEST_SECRET_TEXT:
                    continue
                for form in _forms(text):
                    # Any case: a host name that quotes a secret comes back lower-cased.
                    self._names.setdefault(form.lower(), name)
            if self._names:
                # Longest first: a secret that contains another is replaced whole.
                alternatives = sorted(self._names, key=len, reverse=True)
                self._pattern = re.compile("|".join(map(re.escape, alternatives)), re.IGNORECASE)
        if self.active:
            _redact_handlers()

    def redact(self, text: str) -> str:
        """``text`` with every known secret replaced by its name."""
        pattern = self._pattern
        if pattern is None:
            return text
        return pattern.sub(lambda match: f"<{self._names[match.group().lower()]}>", text)


#: The one redactor of the process.
REDACTOR = Redactor()


def _forms(text: str) -> set[str]:
    """A secret as it may be written: as it is, percent-encoded, JSON- or repr-escaped."""
    return {text, quote(text, safe=""), quote_plus(text), json.dumps(text)[1:-1], repr(text)[1:-1]}


class RedactingStream(io.TextIOBase):
    """A text stream that writes whole lines, each redacted, to another.

    What is written is held until its line ends (or the stream is flushed), so a secret
    written in pieces is still seen whole. Other attributes (``encoding``, ``fileno``,
    ``buffer``) are the wrapped stream's; bytes written to its ``buffer`` pass unredacted.
    """

    def __init__(self, stream: t.TextIO) -> None:
        super().__init__()
        self.stream = stream
        self._pending = ""
        self._lock = threading.Lock()

    @override
    def write(self, text: str) -> int:
        with self._lock:
            self._pending += text
            end = self._pending.rfind("\n") + 1
            if end:
                lines, self._pending = self._pending[:end], self._pending[end:]
                self.stream.write(REDACTOR.redact(lines))
        return len(text)

    @override
    def flush(self) -> None:
        with self._lock:
            if self._pending:
                self.stream.write(REDACTOR.redact(self._pending))
                self._pending = ""
        self.stream.flush()

    @override
    def writable(self) -> bool:
        return True

    @override
    def isatty(self) -> bool:
        return self.stream.isatty()

    @override
    def fileno(self) -> int:
        return self.stream.fileno()

    @property
    @override
    def encoding(self) -> str:  # type: ignore[override]
        return self.stream.encoding

    @property
    @override
    def errors(self) -> str | None:  # type: ignore[override]
        return self.stream.errors

    def __getattr__(self, name: str) -> t.Any:
        return getattr(self.stream, name)


class RedactingFormatter(logging.Formatter):
    """A log handler's formatter, its every line redacted."""

    def __init__(self, formatter: logging.Formatter | None) -> None:
        super().__init__()
        self.formatter = formatter or logging.Formatter()

    @override
    def format(self, record: logging.LogRecord) -> str:
        return REDACTOR.redact(self.formatter.format(record))


def redact_output(*, stdout: bool = False) -> None:
    """From now on, what is written to stderr (and ``stdout``) goes through :data:`REDACTOR`.

    Also hides the password of any proxy set in the environment. Call it once, first thing.
    """
    if not isinstance(sys.stderr, RedactingStream):
        sys.stderr = RedactingStream(sys.stderr)
    if stdout and not isinstance(sys.stdout, RedactingStream):
        sys.stdout = RedactingStream(sys.stdout)
    REDACTOR.active = True
    REDACTOR.protect("proxy password", _proxy_passwords())


def _proxy_passwords() -> list[str]:
    passwords = []
    for url in urllib.request.getproxies().values():
        try:
            password = urlsplit(url).password
        except ValueError:
            continue
        if password:
            passwords.append(password)
    return passwords


def _redact_handlers() -> None:
    """Wrap the formatter of every log handler that does not write to a redacted stream."""
    loggers = [logging.getLogger()] + [
        logger
        for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]
    for logger in loggers:
        for handler in logger.handlers:
            stream = getattr(handler, "stream", None)
            if isinstance(stream, RedactingStream) or isinstance(
                handler.formatter, RedactingFormatter
            ):
                continue
            handler.setFormatter(RedactingFormatter(handler.formatter))
