"""Money as the dashboard shows and reads it: one format (£1,234.56 / €1,234.56), and typed amounts
converted to minor units exactly with decimal.Decimal, more than two decimals refused, never rounded."""

from __future__ import annotations

import pytest

from payintents.domain.money import MAX_AMOUNT
from payintents.web.amounts import AmountInputError, decimal_text, format_money, parse_amount


@pytest.mark.parametrize(
    ("minor", "currency", "shown"),
    [
        (1000, "GBP", "£10.00"),
        (1000, "EUR", "€10.00"),
        (5, "GBP", "£0.05"),
        (0, "EUR", "€0.00"),
        (123456789, "GBP", "£1,234,567.89"),
        (-250, "GBP", "-£2.50"),
        (1000, "USD", "10.00 USD"),
    ],
)
def test_amounts_are_shown_with_symbol_separators_and_two_decimals(
    minor: int, currency: str, shown: str
) -> None:
    assert format_money(minor, currency) == shown


@pytest.mark.parametrize(
    ("typed", "minor"),
    [
        ("10.00", 1000),
        ("10", 1000),
        ("10.5", 1050),
        ("0.01", 1),
        ("0.1", 10),
        (" 7.25 ", 725),
        ("10.", 1000),
        ("0.29", 29),  # 0.29 * 100 is 28.999999999999996 in binary floating point
        ("1.15", 115),
        ("90071992547409.91", MAX_AMOUNT),
    ],
)
def test_typed_amounts_become_exact_minor_units(typed: str, minor: int) -> None:
    assert parse_amount(typed) == minor


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "Enter an amount."),
        ("10.001", "at most 2 decimal places"),
        ("10.999", "at most 2 decimal places"),
        ("0", "greater than 0.00"),
        ("0.00", "greater than 0.00"),
        ("-1", "as a number"),
        ("1e3", "as a number"),
        ("10,00", "as a number"),
        ("£10", "as a number"),
        ("NaN", "as a number"),
        ("١٠", "as a number"),  # Arabic-Indic digits: only ASCII digits are amounts
        ("90071992547409.92", "too large"),
        ("9" * 40, "too large"),
    ],
)
def test_anything_else_is_refused_with_a_reason(typed: str, message: str) -> None:
    with pytest.raises(AmountInputError, match=message):
        parse_amount(typed)


def test_zero_is_allowed_where_a_lower_bound_may_be_zero() -> None:
    assert parse_amount("0", allow_zero=True) == 0


@pytest.mark.parametrize(("minor", "text"), [(1000, "10.00"), (5, "0.05"), (123456, "1234.56")])
def test_prefilled_amounts_parse_back_to_the_same_minor_units(minor: int, text: str) -> None:
    assert decimal_text(minor) == text
    assert parse_amount(decimal_text(minor)) == minor
