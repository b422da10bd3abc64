"""Per-key rate limiting at the API edge: one token bucket per key in this worker process (ADR 0008).

A bucket holds at most ``burst`` tokens and gains ``rate_per_s`` tokens a second; every request
that passed authentication takes one. A request that finds less than one token is refused with
``RateLimitedError`` before anything else happens, carrying the whole seconds until a token will be
there. Buckets are keyed by what the key opens, (account, environment), and read time from an
injected monotonic clock, so the sandbox's movable clock never affects them and tests need no sleep.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from payintents.domain.intent import Environment, Scope

OFF = "off"
SPEC_HELP = "'off' or '<requests>/s [burst <n>]' (requests > 0, n >= 1), e.g. '100/s burst 200'"
_SPEC = re.compile(r"(?P<rate>\d+(?:\.\d+)?)\s*/\s*s(?:\s+burst\s+(?P<burst>\d+))?", re.IGNORECASE)


class RateLimitedError(Exception):
    """The key has no token left; ``retry_after_s`` is the whole seconds until it has one (≥ 1)."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"rate limit exceeded; retry after {retry_after_s} s")
        self.retry_after_s = retry_after_s


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A sustained rate and the most requests that may arrive at once after a quiet spell."""

    rate_per_s: float
    burst: int

    def __post_init__(self) -> None:
        if not (math.isfinite(self.rate_per_s) and self.rate_per_s > 0) or self.burst < 1:
            raise ValueError(f"a rate limit needs requests > 0 and burst >= 1, not {self}")


def parse_rate_limit(text: str) -> RateLimit | None:
    """``off`` is no limit; ``<rate>/s`` or ``<rate>/s burst <n>`` a limit whose burst defaults
    to one second's worth of requests. Anything else raises ``ValueError`` naming the format."""
    if text.strip().lower() == OFF:
        return None
    match = _SPEC.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"must be {SPEC_HELP}, not {text!r}")
    rate_per_s = float(match["rate"])
    burst = int(match["burst"]) if match["burst"] else max(1, math.ceil(rate_per_s))
    try:
        return RateLimit(rate_per_s, burst)
    except ValueError:
        raise ValueError(f"must be {SPEC_HELP}, not {text!r}") from None


@dataclass(slots=True)
class TokenBucket:
    """Tokens left, and the monotonic reading (seconds) they were last topped up at."""

    tokens: float
    refilled_s: float

    def take(self, limit: RateLimit, now_s: float) -> float:
        """Take one token: 0.0 when taken, else the seconds until one will be there."""
        # A reading older than the last one (threads racing to the lock) adds nothing.
        elapsed_s = max(0.0, now_s - self.refilled_s)
        self.tokens = min(float(limit.burst), self.tokens + elapsed_s * limit.rate_per_s)
        self.refilled_s = max(now_s, self.refilled_s)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / limit.rate_per_s


def whole_seconds(wait_s: float) -> int:
    """``Retry-After`` is whole seconds: round up, never below 1. Rounding to microseconds first
    keeps float noise (10.000000000000002) from adding a second."""
    return max(1, math.ceil(round(wait_s, 6)))


class RateLimiter:
    """The buckets of this process; an environment without a limit is never refused.

    A refused request takes no token, so a client that honours ``Retry-After`` gets through. The
    table only grows with keys that authenticated, so made-up keys cannot inflate it.
    """

    def __init__(
        self,
        production: RateLimit | None = None,
        sandbox: RateLimit | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limits = {Environment.PRODUCTION: production, Environment.SANDBOX: sandbox}
        self._monotonic = monotonic
        self._buckets: dict[Scope, TokenBucket] = {}
        # Requests run in a thread pool; one lock keeps take() atomic per bucket.
        self._lock = threading.Lock()

    def admit(self, scope: Scope) -> None:
        """Let the request through or raise ``RateLimitedError``."""
        limit = self._limits[scope.environment]
        if limit is None:
            return
        with self._lock:
            now_s = self._monotonic()
            bucket = self._buckets.setdefault(scope, TokenBucket(float(limit.burst), now_s))
            wait_s = bucket.take(limit, now_s)
        if wait_s > 0.0:
            raise RateLimitedError(whole_seconds(wait_s))
