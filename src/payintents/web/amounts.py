"""Money as merchants and shoppers read it and merchants type it: ``£1,234.56`` / ``€1,234.56``
out, ``1234.56`` in.

One format on every page (the dashboard, the sandbox checkout): the currency's symbol, thousands
separated by commas, a point and two decimals. Input is parsed with ``decimal.Decimal``, never a
float, so ``10.00`` is exactly 1000 minor units; more than two decimals is refused, not rounded.
"""

from __future__ import annotations

import re
from decimal import Decimal

from payintents.domain.money import MAX_AMOUNT

MINOR_DIGITS = 2
SYMBOLS = {"GBP": "£", "EUR": "€"}
_AMOUNT = re.compile(r"(\d+)(?:\.(\d*))?", re.ASCII)
MAX_INTEGER_DIGITS = 14


class AmountInputError(ValueError):
    """What is wrong with a typed amount, in words for the person who typed it."""


def format_money(minor: int, currency: str) -> str:
    """``1234`` GBP → ``£12.34``; a currency without a symbol is written after the number."""
    whole, cents = divmod(abs(minor), 10**MINOR_DIGITS)
    number = f"{'-' if minor < 0 else ''}{{}}{whole:,}.{cents:0{MINOR_DIGITS}d}"
    symbol = SYMBOLS.get(currency)
    return number.format(symbol) if symbol else number.format("") + f" {currency}"


def decimal_text(minor: int) -> str:
    """``1000`` → ``10.00``: what the refund form's amount field is prefilled with."""
    whole, cents = divmod(minor, 10**MINOR_DIGITS)
    return f"{whole}.{cents:0{MINOR_DIGITS}d}"


def parse_amount(text: str, *, allow_zero: bool = False) -> int:
    """``10.00`` → ``1000``. Raises AmountInputError for anything but a plain decimal in range."""
    text = text.strip()
    if not text:
        raise AmountInputError("Enter an amount.")
    match = _AMOUNT.fullmatch(text)
    if match is None:
        raise AmountInputError("Enter the amount as a number, such as 10.00 or 10.5.")
    whole, fraction = match.group(1), match.group(2) or ""
    if len(fraction) > MINOR_DIGITS:
        raise AmountInputError(f"Use at most {MINOR_DIGITS} decimal places, such as 10.25.")
    if len(whole.lstrip("0")) > MAX_INTEGER_DIGITS:
        raise AmountInputError("The amount is too large.")
    scaled = Decimal(f"{whole}.{fraction or '0'}").scaleb(MINOR_DIGITS)
    minor = int(scaled)
    if minor != scaled:  # pragma: no cover - two decimals always scale to a whole number
        raise AmountInputError("The amount is not a whole number of pennies or cents.")
    if minor == 0 and not allow_zero:
        raise AmountInputError("Enter an amount greater than 0.00.")
    if minor > MAX_AMOUNT:
        raise AmountInputError("The amount is too large.")
    return minor
