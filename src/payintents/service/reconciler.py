"""Settling money operations a crash or a processor timeout left ``pending`` (ADR 0026).

Run by ``payintents reconcile`` and by ``serve``'s housekeeping: every operation past its
deadline is settled from what the processor says it did with its key (money_operations.reconcile).
Only operations past their deadline are touched, so a request still waiting for its processor's
answer is never raced; the guarded finish makes a late request and the reconciler record once.
A processor elsewhere (Dojo) that does not answer holds a pass, and the housekeeping thread it
runs on, for a bounded time: each lookup waits at most the processor timeout, and no operation is
started once the pass has run that long (the rest stays pending for the next pass).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from payintents.domain.money_operation import OperationStatus
from payintents.service.dependencies import Dependencies
from payintents.service.money_operations import reconcile

BATCH_SIZE = 200
log = logging.getLogger("payintents.reconciler")


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    succeeded: int
    released: int
    unsettled: int


async def reconcile_overdue(deps: Dependencies) -> ReconcileReport:
    """One pass over the operations pending past their deadline (up to ``BATCH_SIZE``)."""
    now = deps.clock.now()
    overdue = await deps.runner().read(lambda uow: uow.operations.overdue(now, BATCH_SIZE))
    settled: dict[OperationStatus, int] = dict.fromkeys(OperationStatus, 0)
    stop_at = time.monotonic() + deps.processor_timeout_s
    for operation in overdue:
        if time.monotonic() >= stop_at:
            settled[OperationStatus.PENDING] += 1
            continue
        try:
            settled[await reconcile(deps, operation)] += 1
        except Exception:
            # One operation that cannot be recorded must not hold up the others; it stays pending.
            log.exception("could not settle money operation %s", operation.id)
            settled[OperationStatus.PENDING] += 1
    return ReconcileReport(
        settled[OperationStatus.SUCCEEDED], settled[OperationStatus.FAILED], settled[OperationStatus.PENDING]
    )
