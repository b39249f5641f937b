"""The cache's policy (pages/policy.py, pages/outcomes.py) and what the Wayback lookup sends.

Pure functions, one by one; tests/test_pages_cache.py runs the same through the CLI.
"""

from __future__ import annotations

import ipaddress
import typing as t

import msgspec
import pytest

from tap_pocket.pages import outcomes, policy
from tap_pocket.pages.policy import DAY, HOUR, History
from tap_pocket.pages.safety import is_public
from tap_pocket.pages.wayback import is_internal_host, lookup_url, snapshot_url
from tap_pocket.rows import Page
from tests.doc_pages import pages_queries

from .support import unavailable

if t.TYPE_CHECKING:
    from collections.abc import Sequence

T0 = 1_700_000_000.0
ARCHIVE = "https://archive.org/wayback/available"
URL = "https://example.org/a"


def answer(error: str | None = None, **columns: t.Any) -> Page:
    return Page(item_id="1", url=URL, error=error, **columns)


def test_retry_delays_grow_and_never_pass_refresh_days() -> None:
    delays = [policy.retry_delay(failures, 30) for failures in range(1, 8)]
    assert delays == [0, 6 * HOUR, DAY, 3 * DAY, 7 * DAY, 7 * DAY, 7 * DAY]
    assert policy.retry_delay(5, 2) == 2 * DAY
    assert policy.retry_delay(2, 0) == 0


@pytest.mark.parametrize(
    ("failures", "span", "dead"),
    [
        (1, 10 * DAY, False),  # one failure, however old, is not death
        (2, 10 * DAY, False),
        (3, 3 * DAY - 1, False),  # three runs within three days: not yet
        (3, 3 * DAY, True),
        (9, 2 * DAY, False),  # many runs within hours or days: not yet
        (5, 4 * DAY, True),
    ],
)
def test_dead_after_three_failed_runs_over_three_days(
    failures: int, span: float, *, dead: bool
) -> None:
    assert policy.persisted(failures, T0, T0 + span) is dead


def run(history: History | None, page: Page, now: float) -> tuple[History, Page]:
    """The policy's settle of ``page`` answered at ``now`` (its fetched_at, as the fetcher sets)."""
    return policy.settle(history, msgspec.structs.replace(page, fetched_at=policy.iso(now)), now)


def test_a_definite_answer_is_kept_for_refresh_days() -> None:
    history, row = run(None, answer(title="A page"), T0)
    assert (row.attempts, row.first_failed_at) == (1, None)
    assert history == History(kept=row, kept_at=T0)
    assert not policy.due(history, 30, T0 + 30 * DAY)
    assert policy.shown(history) == row
    assert policy.due(history, 30, T0 + 30 * DAY + 1)
    assert policy.due(history, 0, T0)  # fetch_refresh_days 0: every run
    assert not policy.dead_if_failing(history, T0 + 31 * DAY)  # no failure yet


def test_passing_failures_retried_with_growing_intervals_then_dead() -> None:
    history, row = run(None, answer("timeout"), T0)
    assert (row.error, row.attempts, row.first_failed_at) == ("timeout", 1, policy.iso(T0))
    assert policy.retrying(row)
    # After the first failure: the next run, whenever it is.
    assert policy.due(history, 30, T0 + 1)
    history, row = run(history, answer("connection"), T0 + 600)
    assert (row.error, row.attempts, row.first_failed_at) == ("connection", 2, policy.iso(T0))
    # After the second: 6 hours; until then the row comes from the cache.
    assert not policy.due(history, 30, T0 + 600 + 6 * HOUR - 1)
    assert policy.shown(history) == row
    assert policy.due(history, 30, T0 + 600 + 6 * HOUR)
    assert not policy.dead_if_failing(history, T0 + 7 * HOUR)  # 3 runs, but within hours
    history, row = run(history, answer("timeout"), T0 + 7 * HOUR)
    assert row.attempts == 3
    assert policy.retrying(row)
    assert outcomes.tally(row.error, retrying=True) == "retrying"
    # After the third: a day; after the fourth: 3 days.
    assert not policy.due(history, 30, T0 + 31 * HOUR - 1)
    history, row = run(history, answer("timeout"), T0 + 31 * HOUR)
    assert not policy.due(history, 30, T0 + 103 * HOUR - 1)
    # Waiting, the verdict stays that of the last try (4 runs over 31 hours): no death
    # without a failed try to prove it.
    assert policy.tally(policy.shown(history)) == "retrying"
    assert not policy.dead_if_failing(history, T0 + 71 * HOUR)
    # The fifth try comes after more than 3 days of failures: if it fails, the link is dead.
    assert policy.dead_if_failing(history, T0 + 103 * HOUR)
    history, row = run(
        history, answer("timeout", archived_url="http://web.archive.org/x"), T0 + 103 * HOUR
    )
    assert (row.attempts, row.first_failed_at) == (5, policy.iso(T0))
    assert not policy.retrying(row)
    assert policy.tally(row) == "dead"
    # Then weekly, and the dead row (with its archived copy) comes from the cache meanwhile.
    assert not policy.due(history, 30, T0 + 103 * HOUR + 7 * DAY - 1)
    assert policy.shown(history) == row
    # An answer at last: attempts counts the runs it took; the failures are over.
    history, row = run(history, answer(title="Back"), T0 + 103 * HOUR + 7 * DAY)
    assert (row.error, row.attempts, row.first_failed_at) == (None, 6, None)
    assert history == History(kept=row, kept_at=T0 + 103 * HOUR + 7 * DAY)


def test_a_kept_page_is_shown_while_its_refresh_fails_until_the_failures_persist() -> None:
    kept_history, page = run(None, answer(title="Kept", text="the text"), T0)
    later = T0 + 31 * DAY
    assert policy.due(kept_history, 30, later)
    history, row = run(kept_history, answer("server_error", http_status=503), later)
    # The page, not a bare failure row: attempts and first_failed_at note the failing refresh.
    assert (row.title, row.text, row.error, row.http_status) == ("Kept", "the text", None, None)
    assert (row.attempts, row.first_failed_at) == (1, policy.iso(later))
    assert policy.tally(row) == "retrying"
    for hours in (1, 8, 32):
        history, row = run(history, answer("timeout"), later + hours * HOUR)
        assert row.title == "Kept"
    history, row = run(history, answer("timeout"), later + 4 * DAY)
    assert (row.error, row.title, row.attempts) == ("timeout", None, 5)  # dead now
    assert policy.tally(row) == "dead"
    assert history.kept == page  # the page is still kept, should the link come back


@pytest.mark.parametrize("outcome", outcomes.OUTCOMES, ids=lambda o: o.code)
def test_every_code_is_kept_or_retried_by_its_kind(outcome: outcomes.Outcome) -> None:
    history, row = run(None, answer(outcome.code), T0)
    if outcome.kind == "definite":
        assert history.kept == row
        assert (history.failures, row.first_failed_at) == (0, None)
        assert not policy.due(history, 30, T0 + DAY)
    else:
        assert history.kept is None
        assert (history.failures, row.attempts) == (1, 1)
        assert policy.due(history, 30, T0 + 1)
    tally = policy.tally(row)
    if outcome.kind == "passing":
        assert tally == "retrying"  # never dead on a first failure
    elif outcome.dead:
        assert tally == "dead"
    elif outcome.skipped:
        assert tally == "skipped"
    else:
        assert tally in {"ok", "unread"}


@pytest.mark.parametrize(
    ("error", "tally"),
    [
        (None, "ok"),
        ("too_large", "ok"),
        ("truncated", "ok"),  # persisted, but part of the page came: not dead
        ("http_error", "dead"),
        ("timeout", "dead"),
        ("server_error", "dead"),
        ("rate_limited", "unread"),  # the site is there, refusing us: not dead
        ("robots", "skipped"),
        ("blocked", "unread"),
    ],
)
def test_tally_of_settled_rows(error: str | None, tally: str) -> None:
    assert outcomes.tally(error, retrying=False) == tally
    assert outcomes.tally(error, retrying=True) == "retrying"


def test_wayback_is_asked_for_definite_deaths_and_persisted_failures_only() -> None:
    assert outcomes.is_dead("http_error", persisted=False)
    assert outcomes.is_dead("dns", persisted=False)
    assert not outcomes.is_dead("timeout", persisted=False)
    assert outcomes.is_dead("timeout", persisted=True)
    assert not outcomes.is_dead("rate_limited", persisted=True)
    assert not outcomes.is_dead(None, persisted=True)
    assert not outcomes.is_dead("robots", persisted=True)


def test_a_clock_set_back_retries_at_once() -> None:
    history, _ = run(None, answer("timeout"), T0)
    history, _ = run(history, answer("timeout"), T0 + 60)
    assert policy.due(history, 30, T0 - DAY)


# -- what the Wayback lookup receives ------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "sent"),
    [
        ("https://example.org/a?q=1#top", "https://example.org/a?q=1"),
        ("http://news.example.co.uk:8080/p", "http://news.example.co.uk:8080/p"),
        ("HTTPS://Example.ORG/Path", "https://Example.ORG/Path"),
        ("https://bücher.de/x", "https://bücher.de/x"),
        ("http://93.184.216.34/p", "http://93.184.216.34/p"),
        ("http://[2606:4700::1111]/p", "http://[2606:4700::1111]/p"),
        # Secret-looking parameters dropped, the others kept as written.
        (
            "https://example.org/a?token=T&q=a+b&api_key=K&sessionid=S&utm_source=x",
            "https://example.org/a?q=a+b&utm_source=x",
        ),
        ("https://example.org/a?access_token=T", "https://example.org/a"),
        (
            "https://example.org/a?X-Amz-Signature=S&X-Amz-Credential=C&v=1",
            "https://example.org/a?v=1",
        ),
        (
            "https://example.org/a?password=p&PASSWD=p&secret=s&auth=a&sig=s",
            "https://example.org/a",
        ),
        ("https://example.org/cb?code=C&state=s", "https://example.org/cb?state=s"),
        ("https://example.org/n?email=me%40example.org&id=3", "https://example.org/n?id=3"),
        ("https://example.org/a?%74oken=T", "https://example.org/a"),  # "token", encoded
        ("https://example.org/a#access_token=T", "https://example.org/a"),
        # Never sent.
        ("file:///etc/passwd", None),
        ("data:text/html,<script>alert(1)</script>", None),
        ("javascript:alert(document.cookie)", None),
        ("ftp://example.org/file", None),
        ("mailto:someone@example.org", None),
        ("https://user:password@example.org/a", None),
        ("https://user@example.org/a", None),
        ("https://:password@example.org/a", None),
        ("http://intranet/wiki", None),
        ("http://intranet./wiki", None),
        ("http://printer.local/", None),
        ("http://build.internal/", None),
        ("http://nas.lan/", None),
        ("http://router.home.arpa/", None),
        ("http://jira.corp/", None),
        ("http://localhost:8080/", None),
        ("http://app.localhost/", None),
        ("http://x.onion/", None),
        ("http://127.0.0.1/", None),
        ("http://127.1/", None),
        ("http://0x7f000001/", None),
        ("http://2130706433/", None),
        ("http://10.1.2.3/", None),
        ("http://169.254.169.254/latest/meta-data/", None),
        ("http://[::1]/", None),
        ("http://[fec0::1]/", None),  # IPv6 site-local
        ("http://[fd12:3456::1]/", None),  # unique local
        ("http://[::ffff:10.0.0.1]/", None),  # IPv4-mapped private
        ("http://[::ffff:127.0.0.1]/", None),
        ("http://[64:ff9b::a00:1]/", None),  # NAT64 of 10.0.0.1
        ("http://[fe80::1%25eth0]/", None),
        ("http://example.org:99999/", None),  # no such port
        ("http://exa mple.org/", None),
        ("http://example.org/\x00", None),
        ("http:///nohost", None),
        ("", None),
    ],
)
def test_lookup_url(url: str, sent: str | None) -> None:
    assert lookup_url(url, ARCHIVE) == sent


def test_internal_links_go_only_to_an_internal_archive() -> None:
    """A local mirror (or the tests' double) may be asked about local links: they stay home."""
    assert lookup_url("http://intranet/wiki?token=T", ARCHIVE) is None
    assert lookup_url("http://intranet/wiki?token=T", "http://127.0.0.2:8080/available") == (
        "http://intranet/wiki"
    )
    assert lookup_url("http://10.0.0.5/x", "http://wayback.corp/available") == "http://10.0.0.5/x"
    # Still never another scheme, nor user-info.
    assert lookup_url("file:///etc/passwd", "http://127.0.0.2:8080/available") is None
    assert lookup_url("http://u:p@intranet/", "http://127.0.0.2:8080/available") is None


@pytest.mark.parametrize(
    ("host", "internal"),
    [
        ("example.org", False),
        ("EXAMPLE.ORG.", False),
        ("8.8.8.8", False),
        ("localhost", True),
        ("LOCALHOST.", True),
        ("printer", True),
        ("a.b.test", True),
        ("1.2.3.999", True),  # numeric, not an address: not a public name either
        ("0x08.0x08.0x08.0x08", False),  # 8.8.8.8 written in hex
        ("", True),
    ],
)
def test_internal_hosts(host: str, internal: bool) -> None:
    assert is_internal_host(host) is internal


@pytest.mark.parametrize(
    ("api", "snapshot", "kept"),
    [
        (ARCHIVE, "http://web.archive.org/web/2019/https://example.org/", True),
        (ARCHIVE, "https://web.archive.org/web/2019/https://example.org/", True),
        (ARCHIVE, "javascript:alert(1)//web.archive.org", False),
        (ARCHIVE, "data:text/html,web.archive.org", False),
        (ARCHIVE, "https://archive.org/web/2019/x", False),  # not the snapshot host
        (ARCHIVE, "https://web.archive.org.evil.example/web/2019/x", False),
        (ARCHIVE, "https://evil.example/?web.archive.org", False),
        (ARCHIVE, "https://user@web.archive.org/web/2019/x", False),
        (ARCHIVE, "https://web.archive.org:8443/web/2019/x", False),
        (ARCHIVE, "https://web.archive.org/web/2019/x\nSet-Cookie: a", False),
        (ARCHIVE, "//web.archive.org/web/2019/x", False),
        ("https://web.archive.org/wayback/available", "http://web.archive.org/web/1/x", True),
        # Another service (a mirror, the tests' double): its own host and port.
        ("http://127.0.0.2:8080/available", "http://127.0.0.2:8080/web/1/x", True),
        ("http://127.0.0.2:8080/available", "http://127.0.0.2:8081/web/1/x", False),
        ("http://127.0.0.2:8080/available", "http://web.archive.org/web/1/x", False),
    ],
)
def test_snapshot_url_only_on_the_archive_host(api: str, snapshot: str, kept: bool) -> None:
    assert snapshot_url(snapshot, api) == (snapshot if kept else None)


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("fec0::1", False),  # site-local: is_global on some Pythons, never public here
        ("feff::1", False),
        ("fd00::1", False),
        ("::ffff:10.0.0.1", False),
        ("::ffff:8.8.8.8", True),
        ("64:ff9b::7f00:1", False),  # NAT64 of 127.0.0.1
        ("64:ff9b::808:808", True),  # NAT64 of 8.8.8.8
        ("2002:0a00:0001::1", False),  # 6to4 of 10.0.0.1
        ("2001:db8::1", False),
        ("3fff::1", False),
        ("fe80::1%eth0", False),
        ("192.0.0.9", False),
        ("100.64.0.1", False),
        ("198.18.0.1", False),
        ("1.1.1.1", True),
    ],
)
def test_public_addresses_strict(address: str, public: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is public


# -- the docs' dead-links query gives the policy's verdict ----------------------------------


def settled(item_id: str, answers: Sequence[tuple[float, str | None]]) -> Page:
    """The row of a link that gave ``answers`` ((hours after T0, error), one per run)."""
    history = None
    row = answer()
    for hours, error in answers:
        page = answer(error, title="A page" if error is None else None)
        history, row = run(history, page, T0 + hours * HOUR)
    return msgspec.structs.replace(row, item_id=item_id)


@pytest.mark.parametrize("column_type", ["VARCHAR", "TIMESTAMPTZ"])
def test_the_docs_dead_links_query_gives_the_policy_verdict(column_type: str) -> None:
    """A loader may type fetched_at as text or as a timestamp: the query reads both."""
    try:
        import duckdb
    except ImportError:
        unavailable("duckdb is not installed (the e2e dependency group)")
    persisting = [(0, "timeout"), (1, "timeout"), (7, "timeout"), (31, "timeout"), (103, "timeout")]
    rows = [
        settled("404", [(0, "http_error")]),
        settled("first timeout", [(0, "timeout")]),
        settled("hours of 503", [(0, "server_error"), (1, "server_error"), (7, "server_error")]),
        settled("days of timeouts", persisting),
        settled(
            "2.5 days of timeouts", [(0, "timeout"), (1, "timeout"), (7, "timeout"), (60, "tls")]
        ),
        settled("two timeouts, days apart", [(0, "timeout"), (120, "timeout")]),
        settled("days of resets", [(h, "connection") for h, _ in persisting]),
        settled("days of 429", [(h, "rate_limited") for h, _ in persisting]),
        settled("days cut short", [(h, "truncated") for h, _ in persisting]),
        settled("page, refresh failing", [(0, None), (31 * 24, "timeout"), (31 * 24 + 1, "tls")]),
        settled("page", [(0, None)]),
        settled("robots", [(0, "robots")]),
    ]
    _, dead_links = pages_queries()
    db = duckdb.connect()
    db.execute("CREATE TABLE items (item_id VARCHAR, given_url VARCHAR)")
    db.execute(
        "CREATE TABLE pages (item_id VARCHAR, http_status BIGINT, error VARCHAR, "
        f"archived_url VARCHAR, attempts BIGINT, fetched_at {column_type}, "
        f"first_failed_at {column_type})"
    )
    for row in rows:
        db.execute("INSERT INTO items VALUES (?, ?)", (row.item_id, row.url))
        db.execute(
            "INSERT INTO pages VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                row.item_id,
                row.http_status,
                row.error,
                row.archived_url,
                row.attempts,
                row.fetched_at,
                row.first_failed_at,
            ),
        )
    found = {item_id for item_id, *_ in db.execute(dead_links).fetchall()}
    assert found == {row.item_id for row in rows if policy.tally(row) == "dead"}
    assert found == {"404", "days of timeouts", "days of resets"}
