"""Money: an integer amount in minor units with its currency, and the bounds every amount obeys."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from payintents.domain.errors import CurrencyMismatchError, InvalidAmountError

# JSON numbers above 2**53 - 1 lose precision in JavaScript clients, so no amount may exceed it.
MAX_AMOUNT = 2**53 - 1


class Currency(StrEnum):
    GBP = "GBP"
    EUR = "EUR"


def check_amount(value: int, *, field: str = "amount", allow_zero: bool = False) -> int:
    """Return ``value`` if it is a valid amount in minor units, else raise InvalidAmountError."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidAmountError(field, "must be an integer number of minor units")
    low = 0 if allow_zero else 1
    if value < low or value > MAX_AMOUNT:
        raise InvalidAmountError(field, f"must be between {low} and {MAX_AMOUNT}")
    return value


def add_amounts(*values: int, field: str = "amount") -> int:
    """Sum amounts, refusing a total that leaves the allowed range."""
    total = sum(values)
    if total > MAX_AMOUNT:
        raise InvalidAmountError(field, f"total must not exceed {MAX_AMOUNT}")
    return total


@dataclass(frozen=True, slots=True)
class Money:
    value: int
    currency: Currency

    def __add__(self, other: Money) -> Money:
        if other.currency is not self.currency:
            raise CurrencyMismatchError(self.currency.value, other.currency.value)
        return Money(add_amounts(self.value, other.value), self.currency)
