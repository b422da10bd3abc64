"""The customer side of the sandbox: paying an intent with a card, and the 3DS challenge step.

An intent id works like Dojo's payment link: whoever holds it may pay, so these use cases look
the intent up by id alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from payintents.domain import lifecycle
from payintents.domain.errors import NotFoundError, StateConflictError
from payintents.domain.intent import Environment, PaymentIntent, Status
from payintents.service.dependencies import Dependencies
from payintents.service.intent_saves import save_with_events
from payintents.service.ports import CardResult, UnitOfWork
from payintents.service.sandbox import CLOCK_OFFSET, load_clock_offset


@dataclass(frozen=True, slots=True)
class CardDetails:
    number: str
    expiry: str
    cvv: str
    name: str | None


def pay(deps: Dependencies, intent_id: str, card: CardDetails) -> PaymentIntent:
    """One card attempt. Ask the processor with no transaction open (it may be slow), then settle
    on fresh state. An intent out of attempts refuses before the processor is asked."""
    payable = find_payable(deps, intent_id)
    lifecycle.ensure_attempts_left(payable)
    _use_account_clock(deps, payable)
    result = deps.processor.authorize(payable, card.number, card.expiry, card.cvv)
    if card.name:
        result.card["cardName"] = card.name
    with deps.uow() as uow:
        intent = _payable(uow, intent_id, deps.production_checkout)
        if result.outcome != "approved":
            # Concurrent attempts each passed the first check: the bound holds at the write.
            lifecycle.ensure_attempts_left(intent)
        return _settle(deps, uow, intent, result)


def complete_challenge(deps: Dependencies, intent_id: str, passed: bool) -> PaymentIntent:
    _use_account_clock(deps, find_payable(deps, intent_id))
    with deps.uow() as uow:
        intent = _payable(uow, intent_id, deps.production_checkout)
        if not intent.pending_challenge:
            raise StateConflictError("There is no 3-D Secure challenge waiting on this payment.")
        result = deps.processor.complete_challenge(intent, passed)
        return _settle(deps, uow, intent, result)


def _use_account_clock(deps: Dependencies, intent: PaymentIntent) -> None:
    """The payer has no API key, so the intent's owner decides the time (sandbox time travel)."""
    CLOCK_OFFSET.set(load_clock_offset(deps, intent.scope))


def find_for_shopper(deps: Dependencies, intent_id: str) -> PaymentIntent:
    """The intent as its checkout page shows it: one past ``expireAt`` while still unpaid is gone
    for the shopper (the housekeeping pass will cancel it), like a canceled or unknown one."""
    intent = find_payable(deps, intent_id)
    _use_account_clock(deps, intent)
    if intent.status is Status.CREATED and deps.clock.now() >= intent.expire_at:
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


def _settle(deps: Dependencies, uow: UnitOfWork, intent: PaymentIntent, result: CardResult) -> PaymentIntent:
    now: datetime = deps.clock.now()
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
        )
    save_with_events(deps, uow, intent, before, now)
    uow.commit()
    return intent
