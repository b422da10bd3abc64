"""Use cases on payment intents: create, read, search, cancel, capture, reverse and amend."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from payintents.domain import lifecycle
from payintents.domain.events import EventName, intent_event
from payintents.domain.intent import PaymentIntent, Scope, Status
from payintents.domain.lifecycle import IntentSpec
from payintents.domain.money import Money
from payintents.domain.sandbox import FailOperation
from payintents.service.dependencies import Dependencies
from payintents.service.failures import ArmedFailure, with_injected_failure
from payintents.service.idempotent import Answer, IdempotentRequest, Render, execute_once
from payintents.service.ports import IntentPage, IntentQuery, RequestContext, UnitOfWork

Change = Callable[[PaymentIntent, datetime], None]


async def create_intent(
    deps: Dependencies,
    ctx: RequestContext,
    scope: Scope,
    spec: IntentSpec,
    request: IdempotentRequest,
    render: Render[PaymentIntent],
) -> Answer:
    def action(uow: UnitOfWork, now: datetime) -> PaymentIntent:
        intent = lifecycle.open_intent(spec, deps.ids.new_id("pi", scope.environment), scope, now)
        # Contract §9 #12: a client session secret is issued on create as well as on refresh.
        lifecycle.refresh_client_secret(intent, deps.ids.new_secret(), now)
        uow.intents.add(intent)
        event_id = deps.ids.new_id("evt", scope.environment)
        uow.outbox.add(
            intent_event(event_id, EventName.PAYMENT_INTENT_CREATED, intent, now), deps.clock.now()
        )
        return intent

    return await execute_once(deps, ctx, scope, request, action, render)


async def get_intent(
    deps: Dependencies, scope: Scope, intent_id: str, *, return_canceled: bool = False
) -> PaymentIntent:
    def unit(uow: UnitOfWork) -> PaymentIntent:
        return lifecycle.ensure_visible(uow.intents.get(scope, intent_id), return_canceled=return_canceled)

    return await deps.runner().read(unit)


async def search_intents(deps: Dependencies, scope: Scope, query: IntentQuery) -> IntentPage:
    return await deps.runner().read(lambda uow: uow.intents.search(scope, query))


async def change_intent(
    deps: Dependencies,
    ctx: RequestContext,
    scope: Scope,
    intent_id: str,
    change: Change,
    request: IdempotentRequest,
    render: Render[PaymentIntent],
    then: Callable[[UnitOfWork, PaymentIntent], None] | None = None,
) -> Answer:
    """Apply one lifecycle transition to a visible intent and record what it caused.

    ``then`` runs after the save won its version check, still inside the transaction: the place
    for the processor, so a lost race never calls it twice, and its failure rolls everything back.
    """

    def action(uow: UnitOfWork, now: datetime) -> PaymentIntent:
        intent = lifecycle.ensure_visible(uow.intents.get(scope, intent_id))
        before = intent.status
        change(intent, now)
        save_with_events(deps, uow, intent, before, now)
        if then is not None:
            then(uow, intent)
        return intent

    return await execute_once(deps, ctx, scope, request, action, render)


def save_with_events(
    deps: Dependencies, uow: UnitOfWork, intent: PaymentIntent, before: Status, now: datetime
) -> None:
    """Persist a changed intent; a status change also writes its outbox event."""
    uow.intents.save(intent)
    if intent.status is not before:
        event_id = deps.ids.new_id("evt", intent.scope.environment)
        uow.outbox.add(
            intent_event(event_id, EventName.PAYMENT_INTENT_STATUS_UPDATED, intent, now),
            deps.clock.now(),
        )


async def capture_intent(
    deps: Dependencies,
    ctx: RequestContext,
    scope: Scope,
    intent_id: str,
    amounts: tuple[int, int | None],
    request: IdempotentRequest,
    render: Render[PaymentIntent],
) -> Answer:
    """Capture ``amounts`` (amount, tipsAmount) through the processor, once per idempotency key."""

    amount, tips_amount = amounts

    def change(intent: PaymentIntent, now: datetime) -> None:
        capture_id = deps.ids.new_id("cp", intent.scope.environment)
        lifecycle.capture(intent, capture_id, amount, tips_amount, now)

    async def attempt(armed: ArmedFailure) -> Answer:
        def collect(uow: UnitOfWork, intent: PaymentIntent) -> None:
            deps.processor.capture(intent, amount, armed.take(uow))

        return await change_intent(deps, ctx, scope, intent_id, change, request, render, then=collect)

    return await with_injected_failure(deps, ctx, scope, intent_id, FailOperation.CAPTURE, attempt)


def refresh_secret_change(deps: Dependencies) -> Change:
    def change(intent: PaymentIntent, now: datetime) -> None:
        lifecycle.refresh_client_secret(intent, deps.ids.new_secret(), now)

    return change


def reverse_change(deps: Dependencies) -> Change:
    def change(intent: PaymentIntent, now: datetime) -> None:
        lifecycle.reverse(intent, deps.ids.new_id("rvs", intent.scope.environment), now)

    return change


def amount_change(amount: Money, lines: dict[str, list[Any]]) -> Change:
    return lambda intent, now: lifecycle.change_amount(intent, amount, lines, now)


def tips_change(tips: Money) -> Change:
    return lambda intent, now: lifecycle.change_tips(intent, tips, now)
