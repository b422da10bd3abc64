"""Money as integer minor units with its currency, and exact conversion from decimal text.

``Money.of("10.00", "GBP") == Money(1000, "GBP")``. Conversion uses ``decimal.Decimal`` and refuses
anything that is not exactly representable in the currency's minor units (``"10.001"`` GBP) —
never a float, never rounding.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from payintents_client._parse import as_object, req_int, req_str

# ISO 4217 minor-unit exponents of the currencies Dojo takes (GBP and EUR).
CURRENCY_EXPONENTS: dict[str, int] = {"GBP": 2, "EUR": 2}
_PLAIN_DECIMAL = re.compile(r"^[0-9]+(\.[0-9]+)?$")


class AmountError(ValueError):
    """Decimal text that is not an exact, positive amount in the currency's minor units."""


def exponent_of(currency_code: str) -> int:
    try:
        return CURRENCY_EXPONENTS[currency_code.upper()]
    except KeyError:
        known = ", ".join(sorted(CURRENCY_EXPONENTS))
        raise AmountError(f"unknown currency {currency_code!r} (known: {known})") from None


def to_minor_units(amount: str | Decimal, currency_code: str) -> int:
    """``"10.00"`` GBP → 1000. Plain digits with an optional fraction only; no sign, exponent or
    thousands separators; at most as many decimals as the currency has."""
    text = str(amount).strip()
    if not _PLAIN_DECIMAL.match(text):
        raise AmountError(f"{text!r} is not a plain decimal amount like 10.00")
    exponent = exponent_of(currency_code)
    decimals = len(text.partition(".")[2])
    if decimals > exponent:
        raise AmountError(
            f"{text} has {decimals} decimals; {currency_code.upper()} has {exponent} (use at most {exponent})"
        )
    minor = Decimal(text).scaleb(exponent)
    if minor != minor.to_integral_value():  # cannot happen after the checks above; belt and braces
        raise AmountError(f"{text} is not a whole number of minor units")
    return int(minor)


def format_minor(value: int, currency_code: str) -> str:
    """1000, "GBP" → ``"10.00 GBP"``."""
    try:
        exponent = exponent_of(currency_code)
    except AmountError:
        return f"{value} {currency_code} (minor units)"
    return f"{Decimal(value).scaleb(-exponent):.{exponent}f} {currency_code}"


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in integer minor units (``value=1000`` is 10.00 GBP) and its currency."""

    value: int
    currency_code: str

    def __post_init__(self) -> None:
        if not isinstance(self.value, int) or isinstance(self.value, bool):
            raise TypeError(f"Money.value must be an int of minor units, not {type(self.value).__name__}")

    @classmethod
    def of(cls, amount: str | Decimal, currency_code: str) -> Money:
        """``Money.of("10.00", "GBP")`` → ``Money(1000, "GBP")``, exactly."""
        return cls(to_minor_units(amount, currency_code), currency_code.upper())

    def __str__(self) -> str:
        return format_minor(self.value, self.currency_code)

    def to_wire(self) -> dict[str, Any]:
        return {"value": self.value, "currencyCode": self.currency_code}

    @classmethod
    def from_wire(cls, data: Any) -> Money:
        obj = as_object(data, "Money")
        return cls(req_int(obj, "value"), req_str(obj, "currencyCode"))
