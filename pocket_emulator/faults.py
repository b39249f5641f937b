"""Failures the emulator can inject into ``/v3/get``, to test a client's resilience.

Build them by chaining: ``Faults().fail_first(2).slow(0.05)``; each builder also works on
the class (``Faults.reset_every(3)``) and returns the :class:`Faults`. All are off by
default. Request numbers count ``/v3/get`` calls from the moment the faults were given to
the emulator (at construction, or by assigning ``emulator.faults``), starting at 1.
"""

from __future__ import annotations

import functools
import typing as t
from dataclasses import dataclass, field

if t.TYPE_CHECKING:
    from pocket_emulator.account import Account


class _Builder:
    """Lets a builder run on an instance or on the class; both return the Faults.

    ``faults.slow(1)`` changes ``faults``; ``Faults.slow(1)`` starts from a fresh ``Faults()``.
    """

    def __init__(self, method: t.Callable[..., None]) -> None:
        self._method = method
        functools.update_wrapper(self, method)  # type: ignore[arg-type]

    def __get__(self, instance: Faults | None, owner: type[Faults]) -> t.Callable[..., Faults]:
        @functools.wraps(self._method)
        def build(*args: t.Any, **kwargs: t.Any) -> Faults:
            faults = owner() if instance is None else instance
            self._method(faults, *args, **kwargs)
            return faults

        return build


@dataclass
class Faults:
    """What goes wrong, and when. See the builder methods for each fault."""

    fail_count: int = 0
    fail_status: int = 503
    fail_error_code: str = "199"
    fail_error: str = "Pocket server issue"
    reset_period: int = 0
    truncate_period: int = 0
    non_json_period: int = 0
    delay_seconds: float = 0.0
    user_limit_calls: int | None = None
    user_limit_window: float = 3600.0
    mutate_after_request: int = 0
    mutation: t.Callable[[Account], t.Any] | None = field(default=None, repr=False)
    offset_ignored: bool = False
    redirect_location: str | None = None
    redirect_status: int = 307
    proxy_status: int | None = None
    echo_count: int = 0
    echo_status: int = 401
    echo_error_code: str = "107"
    drip_part: str | None = None
    drip_interval: float = 0.0
    flood_entries: int = 0
    patches: tuple[tuple[bytes, bytes], ...] = ()

    @_Builder
    def fail_first(
        self,
        n: int,
        status: int = 503,
        error_code: str = "199",
        error: str = "Pocket server issue",
    ) -> None:
        """Answer the first ``n`` requests with ``status`` and X-Error / X-Error-Code."""
        self.fail_count, self.fail_status = n, status
        self.fail_error_code, self.fail_error = str(error_code), error

    @_Builder
    def reset_every(self, k: int) -> None:
        """Every k-th request, drop the connection without answering (a TCP reset)."""
        self.reset_period = _positive(k)

    @_Builder
    def truncate_every(self, k: int) -> None:
        """Every k-th request, answer 200 with the first half of the JSON body only.

        The Content-Length matches the half, so the HTTP exchange itself succeeds.
        """
        self.truncate_period = _positive(k)

    @_Builder
    def non_json_every(self, k: int) -> None:
        """Every k-th request, answer 200 with an HTML page instead of JSON."""
        self.non_json_period = _positive(k)

    @_Builder
    def slow(self, seconds: float) -> None:
        """Delay every response by ``seconds``."""
        self.delay_seconds = seconds

    @_Builder
    def user_limit(self, limit: int, reset_seconds: float) -> None:
        """A tiny per-user rate limit: ``limit`` calls per window of ``reset_seconds``.

        The window is measured in real (monotonic) time, not the account clock, so tests
        with 2-second windows work while a FakeClock stands still. It starts at the first
        call; once exhausted, calls get 403 with X-Limit-User-Remaining 0 and
        X-Limit-User-Reset = whole seconds until the window ends.
        """
        self.user_limit_calls, self.user_limit_window = limit, reset_seconds

    @_Builder
    def mutate_after(self, k: int, fn: t.Callable[[Account], t.Any]) -> None:
        """Once the k-th request has been answered, call ``fn(account)`` once.

        This changes the account in the middle of a sync.
        """
        self.mutate_after_request, self.mutation = _positive(k), fn

    @_Builder
    def ignore_offset(self) -> None:
        """Serve ``/v3/get`` as if every request asked for offset 0: the same page forever."""
        self.offset_ignored = True

    @_Builder
    def redirect(self, location: str, status: int = 307) -> None:
        """Answer every request, OAuth included, with ``status`` and a ``Location`` header.

        ``location`` is a base URL (``http://127.0.0.1:9999``): the request's own path is
        appended, as a server moved to another host would redirect.
        """
        self.redirect_location, self.redirect_status = location.rstrip("/"), status

    @_Builder
    def proxy_error(self, status: int = 400) -> None:
        """Answer ``/v3/get`` with ``status`` and an HTML page, without X-Error headers.

        What a proxy or load balancer in front of Pocket sends, not Pocket's own API.
        """
        self.proxy_status = status

    @_Builder
    def echo_credentials(self, n: int, status: int = 401, error_code: str = "107") -> None:
        """Answer the first ``n`` API requests (OAuth steps too) quoting the request's secrets.

        With ``status``, X-Error reading ``Invalid token <access_token> for key
        <consumer_key>`` and a body that repeats it: a careless or hostile server echoing
        what it was sent.
        """
        self.echo_count, self.echo_status, self.echo_error_code = n, status, str(error_code)

    @_Builder
    def drip(self, interval: float, part: str = "body") -> None:
        """Send each ``/v3/get`` answer one byte every ``interval`` seconds.

        ``part`` is ``"headers"`` (the status line and headers drip, the body follows at
        once) or ``"body"``. No single read waits longer than ``interval``, so only a limit
        on the whole answer cuts it off.
        """
        if part not in ("headers", "body"):
            msg = "part is 'headers' or 'body'"
            raise ValueError(msg)
        self.drip_part, self.drip_interval = part, interval

    @_Builder
    def flood(self, entries: int) -> None:
        """Answer ``/v3/get`` with the entries from ``offset`` up to ``entries``, all at once.

        Each is the smallest item there is, ``"<id>":{}`` (keyed by its id), whatever
        ``count`` asked for: a server that packs millions of entries into one answer.
        """
        self.flood_entries = _positive(entries)

    @_Builder
    def patch_body(self, old: bytes, new: bytes) -> None:
        """Replace ``old`` with ``new`` in every ``/v3/get`` body (repeatable).

        For entries no Pocket server wrote: a float ``item_id``, a key of 5000 digits.
        """
        self.patches = (*self.patches, (old, new))

    # ------------------------------------------------------------------ decisions

    def echoes(self, request_number: int) -> bool:
        """Whether API request ``request_number`` gets the :meth:`echo_credentials` error."""
        return request_number <= self.echo_count

    def fails(self, request_number: int) -> bool:
        """Whether request ``request_number`` gets the :meth:`fail_first` error."""
        return request_number <= self.fail_count

    def resets(self, request_number: int) -> bool:
        """Whether request ``request_number`` gets its connection reset."""
        return _every(self.reset_period, request_number)

    def truncates(self, request_number: int) -> bool:
        """Whether request ``request_number`` gets half a JSON body."""
        return _every(self.truncate_period, request_number)

    def sends_html(self, request_number: int) -> bool:
        """Whether request ``request_number`` gets the HTML maintenance page."""
        return _every(self.non_json_period, request_number)


def _every(period: int, request_number: int) -> bool:
    return period > 0 and request_number % period == 0


def _positive(k: int) -> int:
    if k < 1:
        msg = "request periods count from 1"
        raise ValueError(msg)
    return k
