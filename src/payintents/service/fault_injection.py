"""Sandbox fault injection: failures a test asked for (``POST /sandbox/payment-intents/{id}/fail-next``),
applied to the next capture or refund of that intent.

The reserve step of the operation takes the failure (``take_failure``), in its own transaction, so
a failure is used up exactly when an operation was written down to reach the processor: a rule
break (400) or a replay leaves it for the next real attempt. The operation carries it to the
processor, which obeys it; "slow" means the processor applied the operation and its answer comes
late (``answer_late``), so the delay holds no transaction and no thread.
"""

from __future__ import annotations

from payintents.domain.intent import Environment, Scope
from payintents.domain.money_operation import MoneyOperation
from payintents.domain.sandbox import FailOperation, FailOutcome, InjectedFailure
from payintents.service.dependencies import Dependencies
from payintents.service.ports import RequestContext, UnitOfWork


def take_failure(
    uow: UnitOfWork, context: RequestContext, scope: Scope, intent_id: str, operation: FailOperation
) -> InjectedFailure | None:
    """The failure armed for this operation on this intent, deleted in the same transaction.

    ``context.failures_armed`` False (authentication saw none armed for the account) saves the
    lookup: a failure armed after the key was read is armed during the request, which promised
    no order."""
    if scope.environment is not Environment.SANDBOX or not context.failures_armed:
        return None
    failure = uow.sandbox.find_failure(scope, intent_id, operation)
    if failure is not None:
        uow.sandbox.delete_failure(scope, intent_id, operation)
    return failure


async def answer_late(deps: Dependencies, operation: MoneyOperation) -> None:
    """A "slow" failure: the processor's answer arrives ``delayMs`` after it applied the operation."""
    injected = operation.injected
    if injected is not None and injected.outcome is FailOutcome.SLOW:
        await deps.sleep(injected.delay_ms / 1000)
