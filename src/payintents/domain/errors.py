"""Expected failures of the domain, each a type the web layer maps to one HTTP answer.

A broken invariant is not an expected failure: it raises InvariantViolationError, which is never
mapped to a client error.
"""

from __future__ import annotations

from collections.abc import Callable


class DomainError(Exception):
    """A request the rules refuse. ``detail`` is safe to show to the caller."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class ValidationError(DomainError):
    """A request field breaks a rule; ``errors`` maps field names to messages."""

    def __init__(self, errors: dict[str, list[str]], detail: str | None = None) -> None:
        super().__init__(detail or "One or more validation errors occurred.")
        self.errors = errors


class InvalidAmountError(ValidationError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__({field: [f"The {field} field {message}."]})


class CurrencyMismatchError(ValidationError):
    def __init__(self, expected: str, actual: str) -> None:
        super().__init__({"currencyCode": [f"All amounts must share one currency ({expected} vs {actual})."]})


class NotFoundError(DomainError):
    """The object does not exist for this caller (also used for other accounts' objects)."""


class RuleBrokenError(DomainError):
    """A business rule refuses the operation in the object's current state (HTTP 400)."""


class RefundTooLargeError(RuleBrokenError):
    """A refund of more than the intent has left to refund. ``detail`` gives the amounts in minor
    units, as the API does; ``describe`` writes them as its reader expects (the dashboard: £4.00)."""

    def __init__(self, amount: int, remaining: int) -> None:
        self.amount = amount
        self.remaining = remaining
        super().__init__(self.describe(str))

    def describe(self, money: Callable[[int], str]) -> str:
        remaining = money(self.remaining)
        return f"Refund amount {money(self.amount)} exceeds the remaining refundable amount {remaining}."


class StateConflictError(DomainError):
    """The operation is not allowed in the object's current state (HTTP 409)."""


class AttemptsExhaustedError(StateConflictError):
    """The intent has had as many card attempts as the checkout takes (HTTP 409, as for any state
    that cannot be paid: no wait makes it payable again, so not 429)."""


class NotAllowedError(DomainError):
    """The operation is switched off for this object (HTTP 405)."""


class IdempotencyConflictError(DomainError):
    """An idempotency key was reused with a different request (HTTP 409)."""


class InvariantViolationError(Exception):
    """A named invariant does not hold: a bug, never the caller's fault."""
