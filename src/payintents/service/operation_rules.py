"""What each kind of money operation writes once its outcome is known: on success, the refund,
capture, reversal or merchant-initiated charge itself with its outbox events; on failure, the
reservation given back.

Every function here runs inside the record step's transaction, after the operation row was moved
out of ``pending`` (so it runs once per operation, whoever records it), and builds everything from
the operation row alone: the request that started it may be long gone (ADR 0026).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from payintents.domain import lifecycle, setup_intent
from payintents.domain.events import EventName, OutboxEvent, status_event
from payintents.domain.intent import PaymentIntent, Status
from payintents.domain.money_operation import MoneyOperation, OperationKind
from payintents.domain.refund import Refund
from payintents.service.dependencies import Dependencies
from payintents.service.intent_saves import save_with_events
from payintents.service.ports import RefundApplied, UnitOfWork

Step = Callable[[Dependencies, UnitOfWork, MoneyOperation], None]


@dataclass(frozen=True, slots=True)
class OperationRules:
    succeed: Step
    release: Step


def refund_of(operation: MoneyOperation) -> Refund:
    details = operation.details or {}
    return Refund(
        id=operation.object_id,
        scope=operation.scope,
        payment_intent_id=operation.intent_id,
        amount=operation.amount,
        refund_reason=details.get("refundReason"),
        notes=details.get("notes"),
        previous_transaction_id=details.get("previousTransactionId"),
        created_at=operation.requested_at,
    )


def _refund_succeeded(deps: Dependencies, uow: UnitOfWork, operation: MoneyOperation) -> None:
    scope, intent_id = operation.scope, operation.intent_id
    applied = uow.intents.confirm_refund(scope, intent_id, operation.amount, operation.requested_at)
    refund = refund_of(operation)
    uow.refunds.add(refund)
    _refund_events(deps, uow, refund, applied)


def _refund_events(deps: Dependencies, uow: UnitOfWork, refund: Refund, applied: RefundApplied) -> None:
    env, now = refund.scope.environment, refund.created_at
    data = {
        "paymentIntentId": refund.payment_intent_id,
        "refundId": refund.id,
        "amount": refund.amount,
        "refundedAmount": applied.refunded_amount,
    }
    created = OutboxEvent(
        deps.ids.new_id("evt", env),
        refund.scope,
        EventName.REFUND_CREATED,
        refund.payment_intent_id,
        now,
        data,
    )
    uow.outbox.add(created, deps.clock.now())
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


def _release_refund(deps: Dependencies, uow: UnitOfWork, operation: MoneyOperation) -> None:
    uow.intents.release_refund(operation.scope, operation.intent_id, operation.amount)


def _change_succeeded(change: Callable[[PaymentIntent, MoneyOperation], None]) -> Step:
    """A capture or reversal: the lifecycle change the reserve step checked, applied and saved."""

    def succeed(deps: Dependencies, uow: UnitOfWork, operation: MoneyOperation) -> None:
        intent = lifecycle.ensure_visible(uow.intents.get(operation.scope, operation.intent_id))
        before = intent.status
        change(intent, operation)
        save_with_events(deps, uow, intent, before, operation.requested_at, finishing=operation.id)

    return succeed


def _capture(intent: PaymentIntent, operation: MoneyOperation) -> None:
    lifecycle.capture(
        intent, operation.object_id, operation.amount, operation.tips_amount, operation.requested_at
    )


def _reverse(intent: PaymentIntent, operation: MoneyOperation) -> None:
    lifecycle.reverse(intent, operation.object_id, operation.requested_at)


def _charge_succeeded(deps: Dependencies, uow: UnitOfWork, operation: MoneyOperation) -> None:
    """A merchant-initiated charge: the intent paid, and its setup intent Completed."""
    details = operation.details or {}

    def change(intent: PaymentIntent, operation: MoneyOperation) -> None:
        setup_intent.charge_intent(intent, operation.object_id, details, operation.requested_at)

    _change_succeeded(change)(deps, uow, operation)
    found = uow.setup_intents.get(operation.scope, str(details.get("setupIntentId")))
    if found is not None:
        setup_intent.complete(found, operation.requested_at)
        uow.setup_intents.save(found)


def _release_change(deps: Dependencies, uow: UnitOfWork, operation: MoneyOperation) -> None:
    uow.intents.release_operation(operation.scope, operation.intent_id, operation.id)


RULES: dict[OperationKind, OperationRules] = {
    OperationKind.REFUND: OperationRules(_refund_succeeded, _release_refund),
    OperationKind.CAPTURE: OperationRules(_change_succeeded(_capture), _release_change),
    OperationKind.REVERSAL: OperationRules(_change_succeeded(_reverse), _release_change),
    OperationKind.CHARGE: OperationRules(_charge_succeeded, _release_change),
}
