"""Refund use cases: the write path that keeps money safe, and reading refunds back.

A refund is a money operation in two phases (service/money_operations.py, ADR 0026). Its reserve
step is one guarded UPDATE: status Captured, no capture or reversal in flight, and refunded +
pending + amount <= refundable, checked against committed rows. That statement is what makes
concurrent refunds safe on every store; reading first and checking in Python would not be. The
refund row, refundedAmount and the events appear only once the processor has said yes.
"""

from __future__ import annotations

from datetime import datetime

from payintents.domain import lifecycle
from payintents.domain.errors import InvariantViolationError, NotFoundError, RefundTooLargeError
from payintents.domain.intent import Scope
from payintents.domain.money_operation import OperationKind
from payintents.domain.refund import Refund, RefundOutcome, RefundRequest
from payintents.domain.sandbox import FailOperation
from payintents.service.dependencies import Dependencies
from payintents.service.fault_injection import take_failure
from payintents.service.idempotent import Answer, IdempotentRequest, Render
from payintents.service.money_operations import Draft, IntentBusyError, Reserve, run_operation
from payintents.service.ports import RequestContext, UnitOfWork

REFUND_NOT_FOUND_DETAIL = "The refund does not exist."


async def create_refund(
    deps: Dependencies,
    context: RequestContext,
    scope: Scope,
    intent_id: str,
    refund_request: RefundRequest,
    request: IdempotentRequest,
    render: Render[RefundOutcome],
) -> Answer:
    reserve = _reserve_refund(deps, context, scope, intent_id, refund_request, render)
    return await run_operation(deps, context, scope, intent_id, request, reserve)


def _reserve_refund(
    deps: Dependencies,
    context: RequestContext,
    scope: Scope,
    intent_id: str,
    refund_request: RefundRequest,
    render: Render[RefundOutcome],
) -> Reserve:
    def reserve(uow: UnitOfWork, now: datetime, _operation_id: str) -> Draft:
        amount = refund_request.amount
        reference = uow.intents.reserve_refund(scope, intent_id, amount)
        if reference is None:
            raise refusal_of(uow, scope, intent_id, amount)
        refund = refund_request.recorded(deps.ids.new_id("rfnd", None), scope, intent_id, now)
        return Draft(
            kind=OperationKind.REFUND,
            intent_id=intent_id,
            amount=amount,
            object_id=refund.id,
            answer=render(RefundOutcome(refund, reference)),
            injected=take_failure(uow, context, scope, intent_id, FailOperation.REFUND),
            details={
                "refundReason": refund.refund_reason,
                "notes": refund.notes,
                "previousTransactionId": refund.previous_transaction_id,
            },
        )

    return reserve


def refusal_of(uow: UnitOfWork, scope: Scope, intent_id: str, amount: int) -> Exception:
    """Why the guarded UPDATE reserved nothing: a rule (400/404), or IntentBusyError when the
    amount fits what is confirmed and only operations in flight are in the way."""
    intent = uow.intents.get(scope, intent_id)
    refusal = lifecycle.refund_refusal(intent, amount)
    if intent is None or not isinstance(refusal, InvariantViolationError):
        return refusal
    # Open terminal sessions may hold part of the rest for minutes: that is a refusal, not a wait.
    left = intent.remaining_refundable - uow.terminals.held_on(scope, intent_id)
    if amount > left:
        return RefundTooLargeError(amount, left)
    # Refunds or a capture in flight are in the way (or, on PostgreSQL, a capture committed after
    # the UPDATE). Wait, then try again.
    return IntentBusyError(intent_id)


async def get_refund(deps: Dependencies, scope: Scope, refund_id: str) -> Refund:
    refund = await deps.runner().read(lambda uow: uow.refunds.get(scope, refund_id))
    if refund is None:
        raise NotFoundError(REFUND_NOT_FOUND_DETAIL)
    return refund


async def list_refunds(deps: Dependencies, scope: Scope, intent_id: str) -> list[Refund]:
    def unit(uow: UnitOfWork) -> list[Refund]:
        lifecycle.ensure_visible(uow.intents.get(scope, intent_id))
        return uow.refunds.list_for_intent(scope, intent_id)

    return await deps.runner().read(unit)
