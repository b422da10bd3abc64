"""Failures a sandbox test asked for (``POST /sandbox/payment-intents/{id}/fail-next``), applied
to the next capture or refund of that intent through the Processor port.

The operation looks its failure up inside its own transaction (``ArmedFailure.take``), so a
capture or refund with nothing armed costs one SELECT, not a transaction of its own, and a
failure that was applied is used up by the same commit as the operation.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar

from payintents.domain.intent import Environment, Scope
from payintents.domain.sandbox import FailOperation, FailOutcome, InjectedFailure
from payintents.service.dependencies import Dependencies
from payintents.service.idempotent import Answer
from payintents.service.ports import ProcessorDeclinedError, ProcessorUnavailableError, UnitOfWork
from payintents.service.waiting import sleep_first

# Whether the current request's account may have a failure armed, as authentication read it with
# the key (web layer sets it per request). False saves the lookup inside the transaction: a
# failure armed after the key was read is armed during the request, which promised no order.
FAILURES_ARMED: ContextVar[bool] = ContextVar("payintents_failures_armed", default=True)


class _WaitFirstError(Exception):
    """A "slow" failure is armed: roll back, wait outside any transaction, then run again."""

    def __init__(self, failure: InjectedFailure) -> None:
        super().__init__(f"wait {failure.delay_ms} ms first")
        self.failure = failure


class ArmedFailure:
    """The failure armed for one operation on one intent, as the operation finds it."""

    def __init__(self, scope: Scope, intent_id: str, operation: FailOperation) -> None:
        self._scope = scope
        self._intent_id = intent_id
        self._operation = operation
        self.waited_for: InjectedFailure | None = None

    def take(self, uow: UnitOfWork) -> InjectedFailure | None:
        """Inside the operation's transaction, once it is about to call the processor: the armed
        failure, deleted in the same transaction (a rollback re-arms it)."""
        if self._scope.environment is not Environment.SANDBOX or not FAILURES_ARMED.get():
            return None
        failure = uow.sandbox.find_failure(self._scope, self._intent_id, self._operation)
        if failure is None:
            return None
        if failure.outcome is FailOutcome.SLOW and failure != self.waited_for:
            raise _WaitFirstError(failure)
        uow.sandbox.delete_failure(self._scope, self._intent_id, self._operation)
        return failure


def with_injected_failure(
    deps: Dependencies,
    scope: Scope,
    intent_id: str,
    operation: FailOperation,
    attempt: Callable[[ArmedFailure], Answer],
) -> Answer:
    """Run a capture or refund with the failure a test asked for, if any, and use it up.

    A failure is used up only when the operation reached the processor: a rule break (400) or a
    replay leaves it for the next real attempt. "slow" pauses before the operation runs again, so
    the delay holds no database lock, and, in the server, no thread either (``sleep_first``).
    """
    armed = ArmedFailure(scope, intent_id, operation)
    while True:
        try:
            return attempt(armed)
        except _WaitFirstError as slow:
            # In the server this gives way (SleepFirstError): the request's runner awaits the
            # pause and runs the request again, when the same failure counts as waited for.
            sleep_first(slow.failure, slow.failure.delay_ms / 1000)
            armed.waited_for = slow.failure
        except (ProcessorDeclinedError, ProcessorUnavailableError):
            # The transaction that took the failure rolled back with the error: use it up here.
            _use_up(deps, scope, intent_id, operation)
            raise


def _use_up(deps: Dependencies, scope: Scope, intent_id: str, operation: FailOperation) -> None:
    with deps.uow() as uow:
        uow.sandbox.delete_failure(scope, intent_id, operation)
        uow.commit()
