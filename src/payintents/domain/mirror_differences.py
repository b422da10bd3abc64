"""Where a mirrored intent and Dojo's disagree (ADR 0033): status, captured amount, refunded
amount and number of refunds, as the reconciliation report lists them.

A refund made at Dojo directly (its dashboard, another integration) is the usual cause: the
mirror never follows refunds from Dojo (domain/mirror.py), so it shows here until a person acts.
"""

from __future__ import annotations

from dataclasses import dataclass

# The compared figures, in the report's order.
FIELDS = ("status", "capturedAmount", "refundedAmount", "refunds")


@dataclass(frozen=True, slots=True)
class IntentFigures:
    """What one side says of an intent; ``refunds`` is None where that side lists no refunds."""

    status: str
    captured_amount: int
    refunded_amount: int
    refunds: int | None


@dataclass(frozen=True, slots=True)
class Difference:
    intent_id: str
    field: str
    ours: str | int
    theirs: str | int


def differences(intent_id: str, ours: IntentFigures, theirs: IntentFigures) -> list[Difference]:
    """Every compared figure on which the mirror (``ours``) and Dojo (``theirs``) disagree."""
    pairs: list[tuple[str, str | int | None, str | int | None]] = [
        ("status", ours.status, theirs.status),
        ("capturedAmount", ours.captured_amount, theirs.captured_amount),
        ("refundedAmount", ours.refunded_amount, theirs.refunded_amount),
        ("refunds", ours.refunds, theirs.refunds),
    ]
    return [
        Difference(intent_id, name, mine, other)
        for name, mine, other in pairs
        if mine is not None and other is not None and mine != other
    ]
