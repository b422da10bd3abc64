"""Money operations: a refund, capture or reversal on its way through the processor.

Each one is written down as ``pending`` before the processor is asked (its amount reserved on the
intent), and becomes ``succeeded`` or ``failed`` once the processor's outcome is known: from its
answer, or, after a crash or a timeout, from asking the processor what it did with the
operation's key (docs/adr/0026-two-phase-money-operations.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from payintents.domain.idempotency import StoredResponse
from payintents.domain.intent import Scope
from payintents.domain.sandbox import InjectedFailure


class OperationKind(StrEnum):
    REFUND = "refund"
    CAPTURE = "capture"
    REVERSAL = "reversal"
    # A merchant-initiated charge of a saved card (ADR 0028).
    CHARGE = "charge"


class OperationStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class ProcessorOutcome(StrEnum):
    """What the processor did with an operation it received."""

    SUCCEEDED = "succeeded"
    DECLINED = "declined"
    FAILED = "failed"


# In a capture's ``details``: the ids of the captures its intent had before it.
PRIOR_CAPTURE_IDS = "priorCaptureIds"


@dataclass(frozen=True, slots=True)
class ProcessorAnswer:
    """What the processor did with an operation, and the id it gave what it created (Dojo's
    ``refundId``) when that id is its own rather than ours; None keeps ours."""

    outcome: ProcessorOutcome
    object_id: str | None = None


@dataclass(frozen=True, slots=True)
class CallerKey:
    """The caller's idempotency key the operation answers (its claim is spent or released with it)."""

    target: str
    key: str


@dataclass(frozen=True, slots=True)
class MoneyOperation:
    """One operation as the reserve step wrote it, with everything the record step needs.

    ``answer`` is the success answer, rendered at reserve (every part of it is known then), so
    whoever records the outcome, the request or the reconciler, stores exactly that answer.
    ``object_id`` is the refund, capture or reversal id the success creates; ``details`` what the
    kind needs besides (a refund's reason and notes). ``requested_at`` is on the request's clock
    (what the records show), ``created_at`` and ``deadline_at`` on real time.
    """

    id: str
    scope: Scope
    intent_id: str
    kind: OperationKind
    amount: int
    object_id: str
    answer: StoredResponse
    requested_at: datetime
    created_at: datetime
    deadline_at: datetime
    caller_key: CallerKey | None = None
    injected: InjectedFailure | None = None
    tips_amount: int | None = None
    details: dict[str, Any] | None = None
    status: OperationStatus = OperationStatus.PENDING

    def named(self, object_id: str | None) -> MoneyOperation:
        """The operation with what it created named ``object_id`` (the processor's id for it),
        in the stored answer too: our id is a random string that appears there only as itself."""
        if object_id is None or object_id == self.object_id:
            return self
        ours, theirs = json.dumps(self.object_id).encode(), json.dumps(object_id).encode()
        if self.answer.body.count(ours) != 1:
            raise ValueError(f"the answer of operation {self.id} does not name {self.object_id} once")
        answer = StoredResponse(self.answer.status_code, self.answer.body.replace(ours, theirs))
        return replace(self, object_id=object_id, answer=answer)

    @property
    def processor_key(self) -> str:
        """The idempotency key the processor sees: one per operation, so a repeat is harmless."""
        return processor_key_of(self.id)


def processor_key_of(operation_id: str) -> str:
    return f"payintents-{operation_id}"
