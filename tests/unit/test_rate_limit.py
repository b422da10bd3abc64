"""The per-key token bucket with a fake monotonic clock: burst, refill, Retry-After rounding, one
bucket per (account, environment), unlimited environments, and the setting's format."""

from __future__ import annotations

import pytest

from payintents.domain.intent import Environment, Scope
from payintents.web.rate_limit import (
    RateLimit,
    RateLimitedError,
    RateLimiter,
    parse_rate_limit,
    whole_seconds,
)
from tests.fakes import FakeMonotonic

PROD = Scope("acc_1", Environment.PRODUCTION)
OTHER_PROD = Scope("acc_2", Environment.PRODUCTION)
SANDBOX = Scope("acc_1", Environment.SANDBOX)


def limiter(rate_per_s: float, burst: int, clock: FakeMonotonic, **kwargs: RateLimit) -> RateLimiter:
    return RateLimiter(RateLimit(rate_per_s, burst), monotonic=clock, **kwargs)


def admitted(rate_limiter: RateLimiter, scope: Scope, times: int) -> int:
    """How many of ``times`` immediate requests got through."""
    passed = 0
    for _ in range(times):
        try:
            rate_limiter.admit(scope)
            passed += 1
        except RateLimitedError:
            pass
    return passed


def retry_after(rate_limiter: RateLimiter, scope: Scope) -> int:
    with pytest.raises(RateLimitedError) as refused:
        rate_limiter.admit(scope)
    return refused.value.retry_after_s


def test_a_fresh_key_gets_its_whole_burst_at_once_and_no_more() -> None:
    clock = FakeMonotonic()
    assert admitted(limiter(10, 5, clock), PROD, 8) == 5


def test_tokens_come_back_at_the_rate_and_never_beyond_the_burst() -> None:
    clock = FakeMonotonic()
    rate_limiter = limiter(2, 4, clock)
    assert admitted(rate_limiter, PROD, 4) == 4
    clock.advance(0.49)
    assert admitted(rate_limiter, PROD, 1) == 0  # 0.98 of a token
    clock.advance(0.01)
    assert admitted(rate_limiter, PROD, 2) == 1
    clock.advance(3600)  # a long quiet spell refills to the burst, not to 7200
    assert admitted(rate_limiter, PROD, 10) == 4


def test_a_refused_request_takes_no_token() -> None:
    clock = FakeMonotonic()
    rate_limiter = limiter(1, 1, clock)
    rate_limiter.admit(PROD)
    assert admitted(rate_limiter, PROD, 50) == 0
    clock.advance(1.0)
    assert admitted(rate_limiter, PROD, 1) == 1


def test_retry_after_is_the_wait_for_one_token_rounded_up_to_whole_seconds() -> None:
    clock = FakeMonotonic()
    slow = limiter(0.1, 1, clock)  # one token every 10 s
    slow.admit(PROD)
    assert retry_after(slow, PROD) == 10
    clock.advance(0.5)
    assert retry_after(slow, PROD) == 10  # 9.5 s rounds up
    clock.advance(8.6)
    assert retry_after(slow, PROD) == 1  # 0.9 s rounds up to 1
    fast = limiter(1000, 1, clock)
    fast.admit(PROD)
    assert retry_after(fast, PROD) == 1  # 1 ms, but never below 1


def test_whole_seconds_ignores_float_noise_and_is_at_least_one() -> None:
    assert whole_seconds(10.000000000000002) == 10
    assert whole_seconds(10.0001) == 11
    assert whole_seconds(0.0) == 1


def test_each_key_has_its_own_bucket() -> None:
    clock = FakeMonotonic()
    rate_limiter = limiter(1, 2, clock)
    assert admitted(rate_limiter, PROD, 5) == 2
    assert admitted(rate_limiter, OTHER_PROD, 5) == 2


def test_sandbox_keys_are_unlimited_unless_given_their_own_limit() -> None:
    clock = FakeMonotonic()
    assert admitted(limiter(1, 1, clock), SANDBOX, 1000) == 1000
    both = limiter(1, 1, clock, sandbox=RateLimit(1, 3))
    assert admitted(both, SANDBOX, 5) == 3
    assert admitted(both, PROD, 5) == 1  # the same account's production key: a separate bucket


def test_no_limits_means_nothing_is_ever_refused() -> None:
    rate_limiter = RateLimiter(monotonic=FakeMonotonic())
    assert admitted(rate_limiter, PROD, 1000) == 1000


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("off", None),
        (" OFF ", None),
        ("100/s burst 200", RateLimit(100.0, 200)),
        ("100/s", RateLimit(100.0, 100)),
        ("0.5/s", RateLimit(0.5, 1)),
        ("2.5 / S  BURST 3", RateLimit(2.5, 3)),
    ],
)
def test_the_setting_reads_off_or_a_rate_with_an_optional_burst(text: str, expected: object) -> None:
    assert parse_rate_limit(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "100",
        "100/min",
        "0/s",
        "-1/s",
        "100/s burst 0",
        "100/s burst 2.5",
        "1e3/s",
        "nan/s",
        "on",
        "100/s 200",
    ],
)
def test_a_malformed_setting_is_refused_with_the_expected_format(text: str) -> None:
    with pytest.raises(ValueError, match="'100/s burst 200'"):
        parse_rate_limit(text)
