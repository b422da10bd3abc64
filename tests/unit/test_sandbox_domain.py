"""The pure sandbox domain (``payintents.domain.sandbox``): how an advance moves an account's clock
offset (forward only, by seconds or to a time, at most 10 years), and the bounds of an injected
failure's delay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from payintents.domain.errors import ValidationError
from payintents.domain.sandbox import (
    MAX_ADVANCE,
    MAX_DELAY_MS,
    FailOperation,
    FailOutcome,
    InjectedFailure,
    advanced_offset,
)

REAL_NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def refused_field(offset: timedelta, seconds: float | None, to: datetime | None) -> str:
    with pytest.raises(ValidationError) as refused:
        advanced_offset(offset, REAL_NOW, seconds, to)
    [field] = refused.value.errors
    return field


# advanced_offset -----------------------------------------------------------------------------------


def test_seconds_add_to_the_current_offset() -> None:
    assert advanced_offset(timedelta(0), REAL_NOW, 3600, None) == HOUR
    assert advanced_offset(HOUR, REAL_NOW, 1800, None) == timedelta(minutes=90)
    assert advanced_offset(HOUR, REAL_NOW, 0, None) == HOUR


def test_to_is_measured_from_the_accounts_current_time() -> None:
    assert advanced_offset(timedelta(0), REAL_NOW, None, REAL_NOW + timedelta(days=31)) == timedelta(days=31)
    # The account is already an hour ahead: "to now + 3 h" is a further 2 h, an offset of 3 h.
    assert advanced_offset(HOUR, REAL_NOW, None, REAL_NOW + 3 * HOUR) == 3 * HOUR
    assert advanced_offset(HOUR, REAL_NOW, None, REAL_NOW + HOUR) == HOUR  # standing still is allowed


def test_the_clock_never_moves_backwards() -> None:
    assert refused_field(timedelta(0), -1, None) == "seconds"
    assert refused_field(timedelta(0), None, REAL_NOW - timedelta(seconds=1)) == "to"
    assert refused_field(2 * HOUR, None, REAL_NOW + HOUR) == "to"  # ahead of real time, behind the account


def test_exactly_one_of_seconds_or_to() -> None:
    assert refused_field(timedelta(0), None, None) == "seconds"
    assert refused_field(timedelta(0), 60, REAL_NOW + HOUR) == "seconds"


def test_at_most_ten_years_ahead_in_total() -> None:
    assert advanced_offset(timedelta(0), REAL_NOW, MAX_ADVANCE.total_seconds(), None) == MAX_ADVANCE
    assert refused_field(timedelta(0), MAX_ADVANCE.total_seconds() + 1, None) == "seconds"
    assert refused_field(MAX_ADVANCE, 1, None) == "seconds"
    assert refused_field(timedelta(0), None, REAL_NOW + MAX_ADVANCE + HOUR) == "seconds"


# InjectedFailure -----------------------------------------------------------------------------------


@pytest.mark.parametrize("delay_ms", [0, 1, MAX_DELAY_MS])
def test_delays_within_bounds_are_accepted(delay_ms: int) -> None:
    failure = InjectedFailure(FailOperation.REFUND, FailOutcome.SLOW, delay_ms)
    assert failure.delay_ms == delay_ms


@pytest.mark.parametrize("delay_ms", [-1, MAX_DELAY_MS + 1])
def test_delays_out_of_bounds_are_refused(delay_ms: int) -> None:
    with pytest.raises(ValidationError) as refused:
        InjectedFailure(FailOperation.CAPTURE, FailOutcome.SLOW, delay_ms)
    assert list(refused.value.errors) == ["delayMs"]


def test_a_failure_without_delay_waits_nothing() -> None:
    assert InjectedFailure(FailOperation.REFUND, FailOutcome.DECLINED).delay_ms == 0
    assert MAX_DELAY_MS == 30_000
