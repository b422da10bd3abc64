"""Failures a sandbox test asked for (``POST /sandbox/payment-intents/{id}/fail-next``), applied
to the next capture or refund of that intent through the Processor port.

The operation looks its failure up inside its own transaction (``ArmedFailure.take``), so a
capture or refund with nothing armed costs one SELECT, not a transaction of its own, and a
failure that was applied is used up by the same commit as the operation.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from payintents.domain.intent import Environment, Scope
from payintents.domain.sandbox import FailOperation, FailOutcome, InjectedFailure
from payintents.service.dependencies import Dependencies
from payintents.service.idempotent import Answer
from payintents.service.ports import (
    ProcessorDeclinedError,
    ProcessorUnavailableError,
    RequestContext,
    UnitOfWork,
)


class _WaitFirstError(Exception):
    """A "slow" failure is armed: roll back, wait outside any transaction, then run again."""

    def __init__(self, failure: InjectedFailure) -> None:
        super().__init__(f"wait {failure.delay_ms} ms first")
        self.failure = failure


class ArmedFailure:
    """The failure armed for one operation on one intent, as the operation finds it."""

    def __init__(self, ctx: RequestContext, scope: Scope, intent_id: str, operation: FailOperation) -> None:
        # False when authentication read, with the key, that nothing was armed for the account:
        # saves the lookup. A failure armed after that is armed during the request, which
        # promised no order.
        self._may_be_armed = ctx.failures_armed
        self._scope = scope
        self._intent_id = intent_id
        self._operation = operation
        self.waited_for: InjectedFailure | None = None

    def take(self, uow: UnitOfWork) -> InjectedFailure | None:
        """Inside the operation's transaction, once it is about to call the processor: the armed
        failure, deleted in the same transaction (a rollback re-arms it)."""
        if self._scope.environment is not Environment.SANDBOX or not self._may_be_armed:
            return None
        failure = uow.sandbox.find_failure(self._scope, self._intent_id, self._operation)
        if failure is None:
            return None
        if failure.outcome is FailOutcome.SLOW and failure != self.waited_for:
            raise _WaitFirstError(failure)
        uow.sandbox.delete_failure(self._scope, self._intent_id, self._operation)
        return failure


async def with_injected_failure(
    deps: Dependencies,
    ctx: RequestContext,
    scope: Scope,
    intent_id: str,
    operation: FailOperation,
    attempt: Callable[[ArmedFailure], Awaitable[Answer]],
) -> Answer:
    """Run a capture or refund with the failure a test asked for, if any, and use it up.

    A failure is used up only when the operation reached the processor: a rule break (400) or a
    replay leaves it for the next real attempt. "slow" pauses (``deps.sleep``, holding no thread
    and no transaction) before the operation runs again, when it counts as waited for.
    """
    armed = ArmedFailure(ctx, scope, intent_id, operation)
    while True:
        try:
            return await attempt(armed)
        except _WaitFirstError as slow:
            await deps.sleep(slow.failure.delay_ms / 1000)
            armed.waited_for = slow.failure
        except (ProcessorDeclinedError, ProcessorUnavailableError):
            # The transaction that took the failure rolled back with the error: use it up here.
            await deps.runner().write(lambda uow: uow.sandbox.delete_failure(scope, intent_id, operation))
            raise
