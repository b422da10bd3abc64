"""The customer side of the sandbox: paying an intent with a card (typed in, or saved for the
intent's customer), and the 3DS challenge step.

An intent id works like Dojo's payment link: whoever holds it may pay, so these use cases look
the intent up by id alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from payintents.domain import lifecycle
from payintents.domain.customer import PaymentMethod
from payintents.domain.errors import NotFoundError, StateConflictError, ValidationError
from payintents.domain.intent import Environment, PaymentIntent, Status
from payintents.service.customers import save_card_as_method
from payintents.service.dependencies import Dependencies
from payintents.service.intent_saves import save_with_events
from payintents.service.ports import CardResult, RequestContext, UnitOfWork
from payintents.service.sandbox import load_clock_offset

NO_CHALLENGE = "There is no 3-D Secure challenge waiting on this payment."
NOT_A_SAVED_CARD = "This card is not saved for the customer of this payment."


@dataclass(frozen=True, slots=True)
class CardDetails:
    number: str
    expiry: str
    cvv: str
    name: str | None
    # Keep the card for the intent's customer (``customer.id``) once the payment is approved.
    save: bool = False


async def pay(deps: Dependencies, intent_id: str, card: CardDetails) -> PaymentIntent:
    """One card attempt. Ask the processor with no transaction open (it may be slow), then settle
    on fresh state. An intent out of attempts refuses before the processor is asked."""
    payable, ctx = await deps.runner().read(lambda uow: _payable_on_its_clock(deps, uow, intent_id))
    lifecycle.ensure_attempts_left(payable)
    if card.save:
        await deps.runner().read(lambda uow: _customer_of(uow, payable))
    result = await deps.processor.authorize(payable, card.number, card.expiry, card.cvv)
    if card.name:
        result.card["cardName"] = card.name

    def settle(uow: UnitOfWork) -> PaymentIntent:
        paid = _settle_attempt(deps, uow, intent_id, result, ctx)
        if card.save and result.outcome == "approved" and result.token:
            save_card_as_method(
                deps, uow, paid.scope, result, result.token, ctx.now(deps.clock), _customer_of(uow, paid)
            )
        return paid

    return await deps.runner().write(settle)


async def pay_with_saved_card(deps: Dependencies, intent_id: str, payment_method_id: str) -> PaymentIntent:
    """One attempt with a card saved for the intent's customer, charged by its token: the same
    attempt bound and outcomes as a card typed in (ADR 0028)."""

    def find(uow: UnitOfWork) -> tuple[PaymentIntent, RequestContext, PaymentMethod]:
        payable, ctx = _payable_on_its_clock(deps, uow, intent_id)
        return payable, ctx, _saved_card_of(uow, payable, payment_method_id)

    payable, ctx, method = await deps.runner().read(find)
    lifecycle.ensure_attempts_left(payable)
    result = await deps.processor.authorize_saved_card(payable, method)
    return await deps.runner().write(
        lambda uow: _settle_attempt(deps, uow, intent_id, result, ctx, payment_method_id=method.id)
    )


async def saved_cards_for_shopper(deps: Dependencies, intent: PaymentIntent) -> list[PaymentMethod]:
    """The cards saved for the intent's customer (``customer.id``), oldest first; none without one."""
    customer_id = _customer_id(intent)
    if customer_id is None:
        return []
    return await deps.runner().read(lambda uow: uow.payment_methods.for_customer(intent.scope, customer_id))


def _saved_card_of(uow: UnitOfWork, intent: PaymentIntent, payment_method_id: str) -> PaymentMethod:
    """A saved card of the intent's customer. Any other id (unknown, deleted, another customer's,
    account's or environment's) gets the same answer, so none can be told from a missing one."""
    method = uow.payment_methods.get(intent.scope, payment_method_id)
    customer_id = _customer_id(intent)
    if method is None or customer_id is None or method.customer_id != customer_id:
        raise ValidationError({"paymentMethodId": [NOT_A_SAVED_CARD]})
    return method


def _customer_id(intent: PaymentIntent) -> str | None:
    customer_id = (intent.document.get("customer") or {}).get("id")
    return str(customer_id) if customer_id else None


def _customer_of(uow: UnitOfWork, intent: PaymentIntent) -> str:
    """The customer a card paid on ``intent`` is saved for: its ``customer.id``, which must exist."""
    customer_id = _customer_id(intent)
    if customer_id is None or uow.customers.get(intent.scope, customer_id) is None:
        raise ValidationError(
            {"saveCard": ["Saving a card needs a payment intent created with the customer.id of a customer."]}
        )
    return customer_id


async def complete_challenge(deps: Dependencies, intent_id: str, passed: bool) -> PaymentIntent:
    challenged, ctx = await deps.runner().read(lambda uow: _payable_on_its_clock(deps, uow, intent_id))
    if not challenged.pending_challenge:
        raise StateConflictError(NO_CHALLENGE)
    result = await deps.processor.complete_challenge(challenged, passed)

    def settle(uow: UnitOfWork) -> PaymentIntent:
        intent = _payable(uow, intent_id, deps.production_checkout)
        if not intent.pending_challenge:
            raise StateConflictError(NO_CHALLENGE)
        return _settle(deps, uow, intent, result, ctx)

    return await deps.runner().write(settle)


def _payable_on_its_clock(
    deps: Dependencies, uow: UnitOfWork, intent_id: str
) -> tuple[PaymentIntent, RequestContext]:
    """The payer has no API key, so the intent's owner decides the time (sandbox time travel)."""
    intent = _payable(uow, intent_id, deps.production_checkout)
    sandbox = intent.scope.environment is Environment.SANDBOX
    offset = uow.sandbox.clock_offset(intent.scope.account_id) if sandbox else timedelta(0)
    return intent, RequestContext(clock_offset=offset)


def find_for_shopper(deps: Dependencies, intent_id: str) -> PaymentIntent:
    """The intent as its checkout page shows it: one past ``expireAt`` while still unpaid is gone
    for the shopper (the housekeeping pass will cancel it), like a canceled or unknown one."""
    intent = find_payable(deps, intent_id)
    now = deps.clock.now() + load_clock_offset(deps, intent.scope)
    if intent.status is Status.CREATED and now >= intent.expire_at:
        raise NotFoundError(lifecycle.NOT_FOUND_DETAIL)
    return intent


def find_payable(deps: Dependencies, intent_id: str) -> PaymentIntent:
    with deps.read() as uow:
        return _payable(uow, intent_id, deps.production_checkout)


def _payable(uow: UnitOfWork, intent_id: str, production_checkout: bool) -> PaymentIntent:
    """A visible intent the test-card checkout may take: production intents only when allowed.

    The built-in processor approves test cards; letting it "capture" a production payment would
    record money that never moved, so production intents answer exactly like missing ones.
    """
    intent = lifecycle.ensure_visible(uow.intents.find(intent_id))
    if intent.scope.environment is Environment.PRODUCTION and not production_checkout:
        raise NotFoundError(lifecycle.NOT_FOUND_DETAIL)
    return intent


def _settle_attempt(
    deps: Dependencies,
    uow: UnitOfWork,
    intent_id: str,
    result: CardResult,
    ctx: RequestContext,
    payment_method_id: str | None = None,
) -> PaymentIntent:
    """A card attempt's answer written on fresh state; ``payment_method_id``: the saved card used."""
    intent = _payable(uow, intent_id, deps.production_checkout)
    if result.outcome != "approved":
        # Concurrent attempts each passed the first check: the bound holds at the write.
        lifecycle.ensure_attempts_left(intent)
    return _settle(deps, uow, intent, result, ctx, payment_method_id)


def _settle(
    deps: Dependencies,
    uow: UnitOfWork,
    intent: PaymentIntent,
    result: CardResult,
    ctx: RequestContext,
    payment_method_id: str | None = None,
) -> PaymentIntent:
    now: datetime = ctx.now(deps.clock)
    before = intent.status
    env = intent.scope.environment
    if result.outcome == "challenge":
        lifecycle.record_challenge(intent, result.card, now)
    elif result.outcome == "declined":
        lifecycle.record_decline(intent, result.card, now)
    else:
        lifecycle.authorize(
            intent,
            transaction_id=deps.ids.new_uuid(),
            capture_id=deps.ids.new_id("cp", env),
            card=result.card,
            now=now,
            payment_method_id=payment_method_id,
        )
    save_with_events(deps, uow, intent, before, now)
    return intent
