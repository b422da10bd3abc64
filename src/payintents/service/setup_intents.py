"""Use cases on setup intents: the merchant's (create, read, cancel, refresh the client session
secret), the public ones by id alone, and saving the card at the hosted checkout (ADR 0028).

Saving asks the processor to verify the card with no transaction open, then records the outcome
on fresh state: approved → a payment method (the customer's, when the setup intent names one)
and the setup intent Authorized; 3-D Secure → a challenge to answer; declined → a Declined event.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from payintents.domain import setup_intent as setup
from payintents.domain.errors import NotFoundError, StateConflictError, ValidationError
from payintents.domain.intent import Environment, Scope
from payintents.domain.setup_intent import SetupIntent
from payintents.service.checkout import CardDetails
from payintents.service.customers import save_card_as_method
from payintents.service.dependencies import Dependencies
from payintents.service.idempotent import Answer, IdempotentRequest, Render, execute_once
from payintents.service.ports import CardResult, RequestContext, UnitOfWork

NO_CHALLENGE = "There is no 3-D Secure challenge waiting on this setup intent."


async def create_setup_intent(
    deps: Dependencies,
    ctx: RequestContext,
    scope: Scope,
    document: dict[str, Any],
    expire_at: datetime | None,
    request: IdempotentRequest,
    render: Render[SetupIntent],
) -> Answer:
    def action(uow: UnitOfWork, now: datetime) -> SetupIntent:
        customer_id = (document.get("customer") or {}).get("id")
        if customer_id and uow.customers.get(scope, customer_id) is None:
            raise ValidationError({"customer.id": ["The customer does not exist."]})
        opened = setup.open_setup_intent(
            deps.ids.new_id("si", scope.environment), scope, document, expire_at, deps.ids.new_secret(), now
        )
        uow.setup_intents.add(opened)
        return opened

    return await execute_once(deps, ctx, scope, request, action, render)


async def get_setup_intent(
    deps: Dependencies, ctx: RequestContext, scope: Scope, setup_intent_id: str
) -> SetupIntent:
    def unit(uow: UnitOfWork) -> SetupIntent:
        found = setup.ensure_found(uow.setup_intents.get(scope, setup_intent_id))
        return setup.seen_at(found, ctx.now(deps.clock))

    return await deps.runner().read(unit)


async def change_setup_intent(
    deps: Dependencies, ctx: RequestContext | None, scope: Scope | None, setup_intent_id: str, change: str
) -> SetupIntent:
    """``change``: "cancel" or "refresh" (a new client session secret). Without a scope (and its
    request's clock), the setup intent is found by id alone and its owner's clock decides."""

    def unit(uow: UnitOfWork) -> SetupIntent:
        found = _load(uow, scope, setup_intent_id)
        now = ctx.now(deps.clock) if ctx is not None else _owner_now(deps, uow, found)
        intent = setup.seen_at(found, now)
        if change == "cancel":
            setup.cancel(intent, now)
        else:
            setup.refresh_secret(intent, deps.ids.new_secret(), now)
        uow.setup_intents.save(intent)
        return intent

    return await deps.runner().write(unit)


async def find_public(deps: Dependencies, setup_intent_id: str) -> SetupIntent:
    def unit(uow: UnitOfWork) -> SetupIntent:
        found = _load(uow, None, setup_intent_id)
        return setup.seen_at(found, _owner_now(deps, uow, found))

    return await deps.runner().read(unit)


def _load(uow: UnitOfWork, scope: Scope | None, setup_intent_id: str) -> SetupIntent:
    if scope is None:
        return setup.ensure_found(uow.setup_intents.find(setup_intent_id))
    return setup.ensure_found(uow.setup_intents.get(scope, setup_intent_id))


def _owner_now(deps: Dependencies, uow: UnitOfWork, intent: SetupIntent) -> datetime:
    """Callers by id alone have no key: the setup intent's owner decides the time."""
    if intent.scope.environment is not Environment.SANDBOX:
        return deps.clock.now()
    return deps.clock.now() + uow.sandbox.clock_offset(intent.scope.account_id)


async def save_card(deps: Dependencies, setup_intent_id: str, card: CardDetails) -> SetupIntent:
    """One card attempt at the hosted checkout."""
    intent = await find_for_shopper(deps, setup_intent_id)
    setup.ensure_created(intent, "save a card")
    result = await deps.processor.verify_card(card.number, card.expiry, card.cvv)
    if card.name:
        result.card["cardName"] = card.name
    return await deps.runner().write(lambda uow: _settle(deps, uow, setup_intent_id, result, result.token))


async def complete_challenge(deps: Dependencies, setup_intent_id: str, passed: bool) -> SetupIntent:
    intent = await find_for_shopper(deps, setup_intent_id)
    if not intent.pending_challenge or intent.pending_card is None:
        raise StateConflictError(NO_CHALLENGE)
    result = await deps.processor.complete_verification(intent.pending_card, passed)
    token = result.token or intent.pending_token
    return await deps.runner().write(lambda uow: _settle(deps, uow, setup_intent_id, result, token))


async def find_for_shopper(deps: Dependencies, setup_intent_id: str) -> SetupIntent:
    """A setup intent the test-card card form may take: production ones only when allowed (the
    built-in processor would save cards that were never verified)."""
    intent = await find_public(deps, setup_intent_id)
    if intent.scope.environment is Environment.PRODUCTION and not deps.production_checkout:
        raise NotFoundError(setup.NOT_FOUND_DETAIL)
    return intent


def _settle(
    deps: Dependencies, uow: UnitOfWork, setup_intent_id: str, result: CardResult, token: str | None
) -> SetupIntent:
    found = _load(uow, None, setup_intent_id)
    now = _owner_now(deps, uow, found)
    intent = setup.seen_at(found, now)
    if result.outcome == "challenge":
        setup.record_challenge(intent, result.card, token, now)
    elif result.outcome != "approved" or not token:
        setup.record_decline(intent, result.card, now)
    else:
        method = save_card_as_method(
            deps, uow, intent.scope, result, token, now, intent.customer_id, intent.id
        )
        details = {
            "transactionId": deps.ids.new_uuid(),
            "transactionDateTime": now,
            "message": "AUTHORISED",
            "paymentMethodId": method.id,
            "card": result.card,
        }
        setup.authorize(intent, method.id, details, now)
    uow.setup_intents.save(intent)
    return intent
