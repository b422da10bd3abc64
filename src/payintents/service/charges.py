"""Merchant-initiated charges: ``POST /payment-intents/{id}/charge`` pays a Created intent with the
card its setup intent saved, without the shopper, as a money operation (ADR 0026, ADR 0028).

Reserve checks the intent, its setup intent (Authorized, or Completed by an earlier charge) and
the saved card, and holds the intent; the processor charges the card by its token; record
captures the intent (Auto; Manual: authorizes it) and completes the setup intent.
"""

from __future__ import annotations

from datetime import datetime

from payintents.domain import lifecycle
from payintents.domain import setup_intent as setup
from payintents.domain.errors import RuleBrokenError, StateConflictError
from payintents.domain.intent import PaymentIntent, Scope
from payintents.domain.money_operation import OperationKind
from payintents.domain.sandbox import FailOperation
from payintents.service.dependencies import Dependencies
from payintents.service.fault_injection import take_failure
from payintents.service.idempotent import Answer, IdempotentRequest, Render
from payintents.service.money_operations import Draft, IntentBusyError, run_operation
from payintents.service.ports import RequestContext, UnitOfWork

NO_SETUP_INTENT = (
    "A charge needs a payment intent created with the setupIntentId of a setup intent whose card "
    "was saved (Authorized)."
)


async def charge_intent(
    deps: Dependencies,
    context: RequestContext,
    scope: Scope,
    intent_id: str,
    request: IdempotentRequest,
    render: Render[PaymentIntent],
) -> Answer:
    def reserve(uow: UnitOfWork, now: datetime, operation_id: str) -> Draft:
        intent = lifecycle.ensure_visible(uow.intents.get(scope, intent_id))
        setup_intent_id = intent.document.get("setupIntentId")
        found = uow.setup_intents.get(scope, setup_intent_id) if setup_intent_id else None
        if found is None:
            raise RuleBrokenError(NO_SETUP_INTENT)
        method_id = setup.ensure_chargeable(setup.seen_at(found, now))
        method = uow.payment_methods.get(scope, method_id)
        if method is None:
            raise RuleBrokenError(f"The card saved by {found.id} was deleted; it cannot be charged.")
        card = dict(found.payment_details or {}).get("card") or {}
        details = {
            "setupIntentId": found.id,
            "paymentMethodId": method.id,
            "processorToken": method.processor_token,
            "transactionId": deps.ids.new_uuid(),
            "card": card,
        }
        capture_id = deps.ids.new_id("cp", scope.environment)
        try:
            setup.charge_intent(intent, capture_id, details, now)
        except StateConflictError as conflict:
            # Dojo answers a charge of an intent that is not Created (or has expired) with 400.
            raise RuleBrokenError(conflict.detail) from None
        if not uow.intents.reserve_operation(intent, operation_id):
            raise IntentBusyError(intent_id)
        return Draft(
            kind=OperationKind.CHARGE,
            intent_id=intent_id,
            amount=intent.total_amount.value,
            object_id=capture_id,
            answer=render(intent),
            injected=take_failure(uow, context, scope, intent_id, FailOperation.CHARGE),
            details=details,
        )

    return await run_operation(deps, context, scope, intent_id, request, reserve)
