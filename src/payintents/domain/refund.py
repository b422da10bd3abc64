"""Refunds: what a caller asks for and what is recorded once the money has gone back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from payintents.domain.intent import Scope
from payintents.domain.money import check_amount


@dataclass(frozen=True, slots=True)
class RefundRequest:
    amount: int
    refund_reason: str | None = None
    notes: str | None = None
    previous_transaction_id: str | None = None

    def __post_init__(self) -> None:
        check_amount(self.amount, field="amount")

    def recorded(self, refund_id: str, scope: Scope, intent_id: str, now: datetime) -> Refund:
        """The refund row this request becomes once its amount was applied to ``intent_id``."""
        return Refund(
            id=refund_id,
            scope=scope,
            payment_intent_id=intent_id,
            amount=self.amount,
            refund_reason=self.refund_reason,
            notes=self.notes,
            previous_transaction_id=self.previous_transaction_id,
            created_at=now,
        )


@dataclass(frozen=True, slots=True)
class Refund:
    id: str
    scope: Scope
    payment_intent_id: str
    amount: int
    refund_reason: str | None
    notes: str | None
    previous_transaction_id: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class RefundOutcome:
    """What the answer to an accepted refund shows: the refund, and the intent's reference."""

    refund: Refund
    reference: str
