"""Refund use cases: the write path that keeps money safe, and reading refunds back.

The write path (design, "The refund write path"): in one transaction, claim the idempotency key,
add the amount with one guarded UPDATE (status Captured and refunded + amount <= refundable), record
the refund and its outbox events, store the answer, commit. The guarded UPDATE is what makes
concurrent refunds safe on every store; reading first and checking in Python would not be.
"""

from __future__ import annotations

from datetime import datetime

from payintents.domain import lifecycle
from payintents.domain.errors import InvariantViolationError, NotFoundError
from payintents.domain.events import EventName, OutboxEvent, status_event
from payintents.domain.intent import Scope, Status
from payintents.domain.refund import Refund, RefundOutcome, RefundRequest
from payintents.domain.sandbox import FailOperation
from payintents.service.dependencies import Dependencies
from payintents.service.failures import ArmedFailure, with_injected_failure
from payintents.service.idempotent import Action, Answer, IdempotentRequest, Render, execute_once
from payintents.service.ports import ConcurrentUpdateError, RefundApplied, RequestContext, UnitOfWork

REFUND_NOT_FOUND_DETAIL = "The refund does not exist."


async def create_refund(
    deps: Dependencies,
    ctx: RequestContext,
    scope: Scope,
    intent_id: str,
    refund_request: RefundRequest,
    request: IdempotentRequest,
    render: Render[RefundOutcome],
) -> Answer:
    async def attempt(armed: ArmedFailure) -> Answer:
        action = _refund_action(deps, scope, intent_id, refund_request, armed)
        return await execute_once(deps, ctx, scope, request, action, render)

    return await with_injected_failure(deps, ctx, scope, intent_id, FailOperation.REFUND, attempt)


def _refund_action(
    deps: Dependencies,
    scope: Scope,
    intent_id: str,
    refund_request: RefundRequest,
    armed: ArmedFailure,
) -> Action[RefundOutcome]:
    def action(uow: UnitOfWork, now: datetime) -> RefundOutcome:
        amount = refund_request.amount
        applied = uow.intents.apply_refund(scope, intent_id, amount, now)
        if applied is None:
            refusal = lifecycle.refund_refusal(uow.intents.get(scope, intent_id), amount)
            if isinstance(refusal, InvariantViolationError):
                # On PostgreSQL a capture may commit between the guarded UPDATE and this read, so
                # the refund may fit now. Nothing was written: run the whole request again.
                raise ConcurrentUpdateError(intent_id)
            raise refusal
        # Inside the transaction, after the guarded UPDATE reserved the amount: a processor
        # failure rolls everything back, the idempotency key included (ADR 0003).
        failure = armed.take(uow)
        deps.processor.refund(scope, intent_id, amount, failure)
        refund = refund_request.recorded(deps.ids.new_id("rfnd", None), scope, intent_id, now)
        uow.refunds.add(refund)
        _record_events(deps, uow, refund, applied, now)
        return RefundOutcome(
            refund=refund,
            refunded_amount=applied.refunded_amount,
            refundable_amount=applied.refundable_amount,
            fully_refunded=applied.status is Status.REFUNDED,
            reference=applied.reference,
        )

    return action


def _record_events(
    deps: Dependencies, uow: UnitOfWork, refund: Refund, applied: RefundApplied, now: datetime
) -> None:
    env = refund.scope.environment
    uow.outbox.add(
        OutboxEvent(
            deps.ids.new_id("evt", env),
            refund.scope,
            EventName.REFUND_CREATED,
            refund.payment_intent_id,
            now,
            {
                "paymentIntentId": refund.payment_intent_id,
                "refundId": refund.id,
                "amount": refund.amount,
                "refundedAmount": applied.refunded_amount,
            },
        ),
        deps.clock.now(),
    )
    if applied.status is Status.REFUNDED:
        uow.outbox.add(
            status_event(
                deps.ids.new_id("evt", env),
                EventName.PAYMENT_INTENT_STATUS_UPDATED,
                refund.scope,
                refund.payment_intent_id,
                applied.status,
                applied.capture_mode,
                now,
            ),
            deps.clock.now(),
        )


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
