"""Request guards: a per-client limit on failed token attempts and the WebSocket Origin check.

Tokens are 32 random bytes, far too long to guess, but unlimited guessing still costs the
server work and fills logs. `FailedAuthLimiter` counts tokens that were presented and
rejected, per client address, in a sliding window; once a client reaches the limit every
request from it is answered 429 (HTTP) or closed with 4429 (WebSocket) until its oldest
failure leaves the window. Requests with no token at all are not counted (they guess
nothing). Memory is bounded: at most `MAX_TRACKED_CLIENTS` addresses are remembered.
"""

from __future__ import annotations

import collections
import math
import time
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

MAX_TRACKED_CLIENTS = 10_000


class FailedAuthLimiter:
    """At most `max_failures` rejected tokens per client address within `window_s`."""

    def __init__(
        self,
        max_failures: int,
        window_s: float,
        *,
        clock_s: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._clock_s = clock_s
        self._failures: collections.OrderedDict[str, collections.deque[float]] = (
            collections.OrderedDict()
        )

    def retry_after_s(self, client: str) -> float:
        """Seconds until `client` may try again; 0 when it is not blocked."""
        failures = self._current(client)
        if failures is None or len(failures) < self.max_failures:
            return 0.0
        return max(0.0, failures[0] + self.window_s - self._clock_s())

    def record_failure(self, client: str) -> None:
        failures = self._current(client)
        if failures is None:
            failures = collections.deque(maxlen=self.max_failures)
            self._failures[client] = failures
            while len(self._failures) > MAX_TRACKED_CLIENTS:
                self._failures.popitem(last=False)
        self._failures.move_to_end(client)
        failures.append(self._clock_s())

    def _current(self, client: str) -> collections.deque[float] | None:
        failures = self._failures.get(client)
        if failures is None:
            return None
        horizon_s = self._clock_s() - self.window_s
        while failures and failures[0] <= horizon_s:
            failures.popleft()
        if not failures:
            del self._failures[client]
            return None
        return failures


def too_many_attempts_detail(retry_after_s: float) -> str:
    wait_s = max(1, math.ceil(retry_after_s))
    return (
        f"too many rejected tokens from this address; wait {wait_s} s and use a "
        "valid token from `winkwatch token create`"
    )


def origin_allowed(origin: str | None, host: str | None, allowed: Iterable[str]) -> bool:
    """A browser's WebSocket `Origin` must be this server itself or listed in `allowed`.

    Non-browser clients send no Origin and pass. Stops other web pages from opening live
    streams with a token stored in the user's browser (cross-site WebSocket hijacking).
    """
    if origin is None:
        return True
    origin = origin.strip().rstrip("/").lower()
    if origin in {entry.strip().rstrip("/").lower() for entry in allowed}:
        return True
    parts = urlsplit(origin)
    return host is not None and parts.scheme in ("http", "https") and parts.netloc == host.lower()
