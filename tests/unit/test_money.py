"""Pure domain values: Money arithmetic, the amount bounds every amount obeys, and the .NET
TimeSpan shape Dojo uses for ``autoExpireIn``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from payintents.domain.errors import CurrencyMismatchError, InvalidAmountError, ValidationError
from payintents.domain.intent import parse_timespan
from payintents.domain.money import MAX_AMOUNT, Currency, Money, add_amounts, check_amount


def test_max_amount_is_the_largest_exact_javascript_integer() -> None:
    assert MAX_AMOUNT == 2**53 - 1


def test_money_of_one_currency_adds_up() -> None:
    assert Money(1000, Currency.GBP) + Money(250, Currency.GBP) == Money(1250, Currency.GBP)


def test_money_of_two_currencies_refuses_to_add() -> None:
    with pytest.raises(CurrencyMismatchError) as raised:
        _ = Money(1000, Currency.GBP) + Money(1, Currency.EUR)
    assert "currencyCode" in raised.value.errors
    assert "GBP" in raised.value.errors["currencyCode"][0]
    assert "EUR" in raised.value.errors["currencyCode"][0]


def test_money_sum_past_the_maximum_is_refused() -> None:
    with pytest.raises(InvalidAmountError):
        _ = Money(MAX_AMOUNT, Currency.EUR) + Money(1, Currency.EUR)


def test_money_sum_exactly_at_the_maximum_is_allowed() -> None:
    assert (Money(MAX_AMOUNT - 1, Currency.EUR) + Money(1, Currency.EUR)).value == MAX_AMOUNT


@pytest.mark.parametrize("value", [1, 2, 1000, MAX_AMOUNT])
def test_check_amount_accepts_one_to_max(value: int) -> None:
    assert check_amount(value) == value


@pytest.mark.parametrize("value", [0, -1, MAX_AMOUNT + 1, 2**63])
def test_check_amount_refuses_out_of_range(value: int) -> None:
    with pytest.raises(InvalidAmountError) as raised:
        check_amount(value, field="amount")
    assert list(raised.value.errors) == ["amount"]


@pytest.mark.parametrize("value", [True, False, 1.0, 10.0, 1e2, "100", None])
def test_check_amount_refuses_non_integers(value: Any) -> None:
    with pytest.raises(InvalidAmountError):
        check_amount(value)


def test_check_amount_allows_zero_only_when_asked() -> None:
    assert check_amount(0, field="tipsAmount", allow_zero=True) == 0
    with pytest.raises(InvalidAmountError) as raised:
        check_amount(-1, field="tipsAmount", allow_zero=True)
    assert list(raised.value.errors) == ["tipsAmount"]


def test_add_amounts_checks_for_overflow() -> None:
    assert add_amounts(1, 2, 3) == 6
    assert add_amounts(MAX_AMOUNT - 5, 5) == MAX_AMOUNT
    with pytest.raises(InvalidAmountError):
        add_amounts(MAX_AMOUNT, 1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("00:00:55", timedelta(seconds=55)),
        ("00:05:00", timedelta(minutes=5)),
        ("1.02:03:04", timedelta(days=1, hours=2, minutes=3, seconds=4)),
        ("6.23:59:59", timedelta(days=6, hours=23, minutes=59, seconds=59)),
        ("00:00:01.5", timedelta(seconds=1, microseconds=500_000)),
        ("00:00:01.1234567", timedelta(seconds=1, microseconds=123_456)),
    ],
)
def test_parse_timespan_reads_dotnet_timespans(text: str, expected: timedelta) -> None:
    assert parse_timespan(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "55",
        "5:00",
        "00:5:00",
        "00:00:5",
        "1:02:03:04",
        "-00:00:55",
        "00:00:55Z",
        "PT5M",
        "a.00:00:01",
        "00:00:55\n",
        "００:０５:００",
        "9999999999.00:00:00",
        "123456789.00:00:00",
    ],
)
def test_parse_timespan_refuses_other_shapes(text: str) -> None:
    with pytest.raises(ValidationError) as raised:
        parse_timespan(text)
    assert list(raised.value.errors) == ["autoExpireIn"]


@pytest.mark.parametrize("text", ["25:00:00", "24:00:00", "00:60:00", "00:00:60"])
def test_parse_timespan_refuses_out_of_range_parts(text: str) -> None:
    with pytest.raises(ValidationError) as raised:
        parse_timespan(text)
    assert list(raised.value.errors) == ["autoExpireIn"]
