"""Operations that move money, in two phases around the processor call (ADR 0026).

1. Reserve, one transaction: claim the caller's idempotency key, apply the guarded UPDATE that
   reserves the amount (or the intent, for a capture or reversal), write the operation ``pending``.
2. Call the processor outside any transaction, under a key derived from the operation id, with a
   deadline.
3. Record, one transaction: the operation ``succeeded`` (the refund, capture or reversal, its
   outbox events, the stored answer on the key) or ``failed`` (the reservation given back, the
   key's claim deleted: a rejected request leaves the key unspent).

A timeout answers 504 and leaves the operation pending; ``reconcile`` settles it from what the
processor says it did. The guarded ``finish`` makes recording happen once, whoever gets there
first. A retry with the same key while the operation is pending waits for it (recording it from
the processor's lookup once the processor has an answer, releasing it past its deadline if the
processor never got the call) and answers the stored result: never a second processor call.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from payintents.domain.idempotency import StoredResponse, replay
from payintents.domain.intent import Scope
from payintents.domain.money_operation import (
    CallerKey,
    MoneyOperation,
    OperationKind,
    OperationStatus,
    ProcessorAnswer,
    ProcessorOutcome,
)
from payintents.domain.sandbox import InjectedFailure
from payintents.service.dependencies import Dependencies
from payintents.service.fault_injection import answer_late
from payintents.service.idempotent import Answer, IdempotentRequest
from payintents.service.mirror import refresh_before_money_moves
from payintents.service.operation_rules import RULES
from payintents.service.ports import (
    ProcessorDeclinedError,
    ProcessorTimeoutError,
    ProcessorUnavailableError,
    RequestContext,
    StoreBusyError,
    UnitOfWork,
)

# How long a pending operation may stay unanswered past the processor timeout before anyone asks
# the processor about it: the call is abandoned at the timeout, and a write it started on a
# thread must have landed by then.
DEADLINE_MARGIN = timedelta(seconds=2)
# Polling a pending operation or a busy intent: from the first pause, doubling to the longest.
FIRST_POLL_S = 0.005
LONGEST_POLL_S = 0.1
# How often a waiting request asks the processor about a pending operation.
LOOKUP_EVERY_S = 1.0


class OperationTimeoutError(ProcessorTimeoutError):
    """The processor did not answer in time; the outcome is settled later (504)."""


class IntentBusyError(Exception):
    """Another operation on the intent is in flight and this one must wait for it."""


@dataclass(frozen=True, slots=True)
class Draft:
    """What a kind's reserve step decided, once its guarded UPDATE succeeded."""

    kind: OperationKind
    intent_id: str
    amount: int
    object_id: str
    answer: StoredResponse
    injected: InjectedFailure | None = None
    tips_amount: int | None = None
    details: dict[str, Any] | None = field(default=None)


# A kind's reserve step: checks, guarded UPDATE, failure taken; (uow, request time, operation id).
Reserve = Callable[[UnitOfWork, datetime, str], Draft]


@dataclass(frozen=True, slots=True)
class _InFlight:
    """The caller's key already started this operation, still pending."""

    operation: MoneyOperation


async def run_operation(
    deps: Dependencies,
    context: RequestContext,
    scope: Scope,
    intent_id: str,
    request: IdempotentRequest,
    reserve: Reserve,
) -> Answer:
    """Reserve, call, record; a replay answers the stored response."""
    # An upstream account's mirror first learns what Dojo has captured (ADR 0031).
    await refresh_before_money_moves(deps, scope, intent_id)
    waited_until = time.monotonic() + longest_wait_s(deps)
    while True:
        try:
            # A reservation must be on disk before a processor elsewhere may act on it; one the
            # processor writes after, in our own database, carries it there (ADR 0030).
            reserved = await deps.runner().write(
                lambda uow: _reserve(deps, context, scope, request, reserve, uow),
                durable=not (await deps.processor_for(scope)).ledger_in_our_store,
            )
        except IntentBusyError:
            await wait_for_intent(deps, scope, intent_id, waited_until)
            continue
        if isinstance(reserved, Answer):
            return reserved
        if isinstance(reserved, MoneyOperation):
            return await call_and_record(deps, reserved)
        settled = await settle(deps, reserved.operation)
        if settled.status is OperationStatus.SUCCEEDED:
            return Answer(settled.answer, replayed=True)
        # It failed and its key was released: this request runs as a new one.


def _reserve(
    deps: Dependencies,
    context: RequestContext,
    scope: Scope,
    request: IdempotentRequest,
    reserve: Reserve,
    uow: UnitOfWork,
) -> Answer | MoneyOperation | _InFlight:
    now = context.now(deps.clock)
    caller = None
    if request.key is not None:
        caller = CallerKey(request.target, request.key)
        record = uow.idempotency.claim(scope, request.target, request.key, request.fingerprint, now)
        if record is not None:
            in_flight = None
            if record.response is None and record.fingerprint == request.fingerprint:
                in_flight = uow.operations.for_key(scope, request.target, request.key)
            if in_flight is not None:
                return _InFlight(in_flight)
            return Answer(replay(record, request.fingerprint), replayed=True)
    operation_id = deps.ids.new_id("op", scope.environment)
    operation = new_operation(deps, scope, operation_id, reserve(uow, now, operation_id), now, caller)
    uow.operations.add(operation)
    return operation


def new_operation(
    deps: Dependencies,
    scope: Scope,
    operation_id: str,
    draft: Draft,
    requested_at: datetime,
    caller: CallerKey | None = None,
) -> MoneyOperation:
    """The pending operation a reserve step's draft describes, its deadline on real time."""
    created_at = deps.clock.now()
    return MoneyOperation(
        id=operation_id,
        scope=scope,
        intent_id=draft.intent_id,
        kind=draft.kind,
        amount=draft.amount,
        object_id=draft.object_id,
        answer=draft.answer,
        requested_at=requested_at,
        created_at=created_at,
        deadline_at=created_at + timedelta(seconds=deps.processor_timeout_s) + DEADLINE_MARGIN,
        caller_key=caller,
        injected=draft.injected,
        tips_amount=draft.tips_amount,
        details=draft.details,
    )


async def call_and_record(deps: Dependencies, operation: MoneyOperation) -> Answer:
    """Phase 2 and 3 of a reserved operation: the processor call, then its outcome recorded."""
    try:
        # A deadline on this task itself: no second task per call, as wait_for would make.
        async with asyncio.timeout(deps.processor_timeout_s):
            assigned_id = await _call(deps, operation)
    except TimeoutError:
        raise OperationTimeoutError(
            "The card processor did not answer in time; its outcome will be confirmed shortly: "
            "retry with the same idempotency key to get it."
        ) from None
    except (ProcessorDeclinedError, ProcessorUnavailableError):
        # The processor said it did nothing: give the reservation back, then answer the refusal.
        await deps.runner().write(lambda uow: record_failure(deps, uow, operation))
        raise
    if await deps.runner().write(lambda uow: record_success(deps, uow, operation, assigned_id)):
        return Answer(operation.named(assigned_id).answer, replayed=False)
    return await _recorded_answer(deps, operation)


async def _call(deps: Dependencies, operation: MoneyOperation) -> str | None:
    assigned_id = await (await deps.processor_for(operation.scope)).perform(operation)
    await answer_late(deps, operation)
    return assigned_id


async def _recorded_answer(deps: Dependencies, operation: MoneyOperation) -> Answer:
    """Someone else (the reconciler) recorded the operation first: answer what it recorded."""
    recorded = await _current(deps, operation)
    if recorded.status is OperationStatus.SUCCEEDED:
        return Answer(recorded.answer, replayed=False)
    raise ProcessorUnavailableError("The card processor's outcome was not confirmed; nothing was changed.")


def record_success(
    deps: Dependencies, uow: UnitOfWork, operation: MoneyOperation, assigned_id: str | None = None
) -> bool:
    """The processor did it: write its result (named ``assigned_id`` when the processor named
    it) and spend the key. False if already recorded."""
    if not uow.operations.finish(operation.id, OperationStatus.SUCCEEDED, deps.clock.now()):
        return False
    named = operation.named(assigned_id)
    if named is not operation:
        uow.operations.name_object(named)
        operation = named
    RULES[operation.kind].succeed(deps, uow, operation)
    if operation.caller_key is not None:
        target, key = operation.caller_key.target, operation.caller_key.key
        uow.idempotency.complete(operation.scope, target, key, operation.answer)
    return True


def record_failure(deps: Dependencies, uow: UnitOfWork, operation: MoneyOperation) -> bool:
    """The processor did nothing: give back what was reserved and the key. False if recorded."""
    if not uow.operations.finish(operation.id, OperationStatus.FAILED, deps.clock.now()):
        return False
    RULES[operation.kind].release(deps, uow, operation)
    if operation.caller_key is not None:
        uow.idempotency.release(operation.scope, operation.caller_key.target, operation.caller_key.key)
    return True


async def reconcile(deps: Dependencies, operation: MoneyOperation) -> OperationStatus:
    """Settle a pending operation past its deadline from what the processor says it did: done →
    recorded, declined, failed or never received → released. Its final status."""
    processor = await deps.processor_for(operation.scope)
    try:
        # A processor elsewhere may hang: its answer is waited for no longer than a call's.
        async with asyncio.timeout(deps.processor_timeout_s):
            answer = await processor.lookup(operation)
    except TimeoutError:
        raise ProcessorUnavailableError(
            f"The card processor did not answer about operation {operation.id} in time; it stays pending."
        ) from None
    if answer is None and deps.clock.now() < operation.deadline_at:
        # "No answer" means "never received" only past the deadline (Dojo's lookup answers None
        # before it): a clock stepped back, or a call too early, releases nothing.
        return (await _current(deps, operation)).status
    await _record(deps, operation, answer if answer is not None else ProcessorAnswer(ProcessorOutcome.FAILED))
    return (await _current(deps, operation)).status


async def settle(deps: Dependencies, operation: MoneyOperation) -> MoneyOperation:
    """Wait for a pending operation to be recorded, and record it from the processor's own word
    as soon as the processor has one (asked once a second at most): a request that died after
    the call is then settled without waiting for the deadline. Past the deadline, a call the
    processor never received is released."""
    pause_s, asked_at = FIRST_POLL_S, time.monotonic()
    current = operation
    while current.status is OperationStatus.PENDING:
        if deps.clock.now() >= current.deadline_at:
            await reconcile(deps, current)
        elif time.monotonic() - asked_at >= LOOKUP_EVERY_S:
            asked_at = time.monotonic()
            answer = await (await deps.processor_for(current.scope)).lookup(current)
            if answer is not None:
                await _record(deps, current, answer)
        else:
            await asyncio.sleep(pause_s)
            pause_s = min(2 * pause_s, LONGEST_POLL_S)
        current = await _current(deps, current)
    return current


async def _record(deps: Dependencies, operation: MoneyOperation, answer: ProcessorAnswer) -> None:
    if answer.outcome is ProcessorOutcome.SUCCEEDED:
        await deps.runner().write(lambda uow: record_success(deps, uow, operation, answer.object_id))
    else:
        await deps.runner().write(lambda uow: record_failure(deps, uow, operation))


async def _current(deps: Dependencies, operation: MoneyOperation) -> MoneyOperation:
    found = await deps.runner().read(lambda uow: uow.operations.get(operation.id))
    if found is None:
        raise StoreBusyError(f"operation {operation.id} vanished")
    return found


async def wait_for_intent(deps: Dependencies, scope: Scope, intent_id: str, waited_until: float) -> None:
    """Wait until the intent's operations in flight are recorded (settling overdue ones)."""
    if time.monotonic() >= waited_until:
        raise StoreBusyError("another operation on this payment intent stayed in flight too long")
    pending = await deps.runner().read(lambda uow: uow.operations.pending_on(scope, intent_id))
    for operation in pending:
        await settle(deps, operation)
    if not pending:
        # Recorded between our reserve and this read: try again at once, after a breath.
        await asyncio.sleep(FIRST_POLL_S)


def longest_wait_s(deps: Dependencies) -> float:
    return 2 * (deps.processor_timeout_s + DEADLINE_MARGIN.total_seconds())
