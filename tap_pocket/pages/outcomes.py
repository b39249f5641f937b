"""What each ``error`` code of the ``pages`` stream means, written once.

The schema, the cache, the retry policy, the Wayback lookups and the closing summary all
read it from here.

Each code has a *kind*:

- ``definite``: the answer will be the same tomorrow (a page, a 404, no such host, a
  robots.txt refusal...). The row is kept for ``fetch_refresh_days``.
- ``passing``: the answer may well differ on the next run (a timeout, a reset, a 5xx, a
  429...). The link is tried again on a later run, never kept as final.

and two flags: ``dead`` (the link itself is gone: an archived copy is worth looking up)
and ``skipped`` (not fetched, by the tap's or the site's choice). A definite code marked
dead is dead at once; a passing one only once its failures have persisted
(:func:`tap_pocket.pages.policy.persisted` says when), and a passing code not marked dead
never makes the link dead (``rate_limited``: the site is there; ``truncated``: part of the
page came).
"""

from __future__ import annotations

import typing as t


class Outcome(t.NamedTuple):
    """One error code of the ``pages`` stream."""

    code: str
    kind: t.Literal["definite", "passing"]
    meaning: str
    dead: bool = False
    skipped: bool = False


OUTCOMES: tuple[Outcome, ...] = (
    # The link is gone.
    Outcome("http_error", "definite", "an HTTP 4xx answer (404, 410, ...)", dead=True),
    Outcome("dns", "definite", "the host name does not exist (NXDOMAIN)", dead=True),
    Outcome("soft_404", "definite", "an HTTP 200 page that says it is not found", dead=True),
    Outcome("too_many_redirects", "definite", "more than 10 redirects, or a loop", dead=True),
    # The link answers, but not with an article the tap can read.
    Outcome("not_html", "definite", "the answer is not an HTML page", skipped=True),
    Outcome("robots", "definite", "the site's robots.txt disallows it", skipped=True),
    Outcome(
        "private_address",
        "definite",
        "the host resolves to a non-public address (fetch_private_addresses)",
        skipped=True,
    ),
    Outcome("too_large", "definite", "the page is over fetch_max_bytes (the part read is used)"),
    Outcome("blocked", "definite", "the site refuses robots (401/403 challenge, 999, ...)"),
    Outcome("login_wall", "definite", "the page asks to log in or subscribe"),
    Outcome(
        "not_article",
        "definite",
        "no article: a JavaScript-only shell, or a deep link sent to the site's home page",
    ),
    Outcome("extraction_failed", "definite", "the page's text could not be extracted"),
    Outcome(
        "extraction_limit",
        "definite",
        "extraction passed its time or memory limit (the page's metadata is kept)",
    ),
    # Passing failures: tried again on a later run.
    Outcome("timeout", "passing", "no complete answer within fetch_timeout_seconds", dead=True),
    Outcome("connection", "passing", "the connection failed or was reset", dead=True),
    Outcome("tls", "passing", "the TLS handshake or certificate failed", dead=True),
    Outcome("dns_failure", "passing", "the host name could not be resolved this time", dead=True),
    Outcome("server_error", "passing", "an HTTP 5xx answer", dead=True),
    Outcome("rate_limited", "passing", "HTTP 429 or 503 asking to come back later"),
    Outcome("truncated", "passing", "the body was cut short (the part that came is extracted)"),
)

BY_CODE: dict[str, Outcome] = {outcome.code: outcome for outcome in OUTCOMES}
CODES: tuple[str, ...] = tuple(BY_CODE)
DEFINITE = frozenset(o.code for o in OUTCOMES if o.kind == "definite")
PASSING = frozenset(o.code for o in OUTCOMES if o.kind == "passing")
#: Dead at once: an archived copy is looked up on the first such answer.
DEAD = frozenset(o.code for o in OUTCOMES if o.dead and o.kind == "definite")
#: Dead once the link's passing failures have persisted (never on a first failure).
DEAD_ONCE_PERSISTED = frozenset(o.code for o in OUTCOMES if o.dead and o.kind == "passing")
SKIPPED = frozenset(o.code for o in OUTCOMES if o.skipped)
#: Codes whose row still carries the page's columns (what was read of it).
WITH_CONTENT = frozenset({"too_large", "truncated", "extraction_limit"})


#: The counts of the closing summary: each row adds to one.
Tally = t.Literal["ok", "dead", "retrying", "skipped", "unread"]


def is_dead(error: str | None, *, persisted: bool) -> bool:
    """Whether a row with ``error`` reports a dead link (``persisted``: its failures have)."""
    return error in DEAD or (persisted and error in DEAD_ONCE_PERSISTED)


def tally(error: str | None, *, retrying: bool) -> Tally:
    """The summary count of a row with ``error``.

    ``retrying``: the link has passing failures that have not persisted yet (its row may
    still be the last good page); it is tried again on a later run. A passing failure that
    is not ``retrying`` has persisted.
    """
    if retrying:
        return "retrying"
    if error is None or error in WITH_CONTENT:
        return "ok"
    if is_dead(error, persisted=True):
        return "dead"
    if error in SKIPPED:
        return "skipped"
    return "unread"  # answered, but with no article to read (blocked, login wall, ...)


def describe() -> str:
    """The codes for the schema's description of ``error``."""
    return "Null on success, else one of: " + ", ".join(f"{o.code} ({o.meaning})" for o in OUTCOMES)
