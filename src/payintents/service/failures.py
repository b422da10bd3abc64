"""Failures a sandbox test asked for (``POST /sandbox/payment-intents/{id}/fail-next``), applied
to the next capture or refund of that intent through the Processor port."""

from __future__ import annotations

import logging
from collections.abc import Callable

from payintents.domain.intent import Environment, Scope
from payintents.domain.sandbox import FailOperation, FailOutcome, InjectedFailure
from payintents.service.dependencies import Dependencies
from payintents.service.idempotent import Answer
from payintents.service.ports import ProcessorDeclinedError, ProcessorUnavailableError, StoreBusyError

log = logging.getLogger("payintents.sandbox")


def with_injected_failure(
    deps: Dependencies,
    scope: Scope,
    intent_id: str,
    operation: FailOperation,
    attempt: Callable[[InjectedFailure | None], Answer],
) -> Answer:
    """Run a capture or refund with the failure a test asked for, if any, and use it up.

    A failure is used up only when the operation reached the processor: a rule break (400) or a
    replay leaves it for the next real attempt. "slow" waits before the operation starts, so the
    delay holds no database lock.
    """
    failure = _pending_failure(deps, scope, intent_id, operation)
    if failure is not None and failure.outcome is FailOutcome.SLOW:
        deps.sleep(failure.delay_ms / 1000)
    try:
        answer = attempt(failure)
    except (ProcessorDeclinedError, ProcessorUnavailableError):
        _use_up(deps, scope, intent_id, operation)
        raise
    if failure is not None and not answer.replayed:
        try:
            _use_up(deps, scope, intent_id, operation)
        except StoreBusyError:
            # The operation already committed: answer it. The failure stays armed for one more
            # attempt, which is the lesser surprise in a sandbox than a 503 for a done refund.
            log.warning("could not disarm a sandbox failure on %s; it stays armed", intent_id)
    return answer


def _pending_failure(
    deps: Dependencies, scope: Scope, intent_id: str, operation: FailOperation
) -> InjectedFailure | None:
    if scope.environment is not Environment.SANDBOX:
        return None
    with deps.read() as uow:
        return uow.sandbox.find_failure(scope, intent_id, operation)


def _use_up(deps: Dependencies, scope: Scope, intent_id: str, operation: FailOperation) -> None:
    with deps.uow() as uow:
        uow.sandbox.delete_failure(scope, intent_id, operation)
        uow.commit()
