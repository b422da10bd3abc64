"""Use cases on payment intents: create, read, search, cancel, capture, reverse and amend."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from payintents.domain import lifecycle
from payintents.domain.errors import NotAllowedError
from payintents.domain.events import EventName, intent_event
from payintents.domain.intent import PaymentIntent, Scope
from payintents.domain.lifecycle import IntentSpec
from payintents.domain.money import Money
from payintents.domain.money_operation import PRIOR_CAPTURE_IDS, OperationKind
from payintents.domain.sandbox import FailOperation
from payintents.domain.terminal import TerminalSession
from payintents.service.dependencies import Dependencies
from payintents.service.fault_injection import take_failure
from payintents.service.idempotent import Answer, IdempotentRequest, Render, execute_once, stored_answer
from payintents.service.intent_saves import save_with_events
from payintents.service.mirror import Forwarded, cancel_at_upstream, create_mirrored
from payintents.service.mirror_refresh import refresh_if_stale
from payintents.service.money_operations import Draft, IntentBusyError, Reserve, run_operation
from payintents.service.ports import IntentPage, IntentQuery, RequestContext, UnitOfWork

Change = Callable[[PaymentIntent, datetime], None]

MIRROR_CHANGE_REFUSED = (
    "This payment intent was created at Dojo through this gateway; change its amount, tips or "
    "client session secret at Dojo."
)


async def create_intent(
    deps: Dependencies,
    ctx: RequestContext,
    scope: Scope,
    spec: IntentSpec,
    request: IdempotentRequest,
    render: Render[PaymentIntent],
    forwarded: Forwarded,
) -> Answer:
    """A new intent; for an upstream account's production key, created at Dojo and mirrored."""
    upstream = await deps.upstream_for(scope)
    if upstream is not None:
        return await create_mirrored(deps, ctx, scope, spec, request, upstream, forwarded)

    def action(uow: UnitOfWork, now: datetime) -> PaymentIntent:
        intent = lifecycle.open_intent(spec, deps.ids.new_id("pi", scope.environment), scope, now)
        # As Dojo does, a client session secret is issued on create as well as on refresh.
        lifecycle.refresh_client_secret(intent, deps.ids.new_secret(), now)
        uow.intents.add(intent)
        event_id = deps.ids.new_id("evt", scope.environment)
        uow.outbox.add(
            intent_event(event_id, EventName.PAYMENT_INTENT_CREATED, intent, now), deps.clock.now()
        )
        return intent

    return await execute_once(deps, ctx, scope, request, action, render)


async def get_intent_and_sessions(
    deps: Dependencies, scope: Scope, intent_id: str, *, return_canceled: bool = False
) -> tuple[PaymentIntent, list[TerminalSession]]:
    """The intent, with its terminal sessions (its ``terminalSessionHistory``) read in the same
    unit of work; an upstream account's mirror is refreshed from Dojo first when it is stale."""
    await refresh_if_stale(deps, scope, intent_id)

    def unit(uow: UnitOfWork) -> tuple[PaymentIntent, list[TerminalSession]]:
        intent = lifecycle.ensure_visible(uow.intents.get(scope, intent_id), return_canceled=return_canceled)
        return intent, uow.terminals.sessions_for_intent(scope, intent_id)

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
) -> Answer:
    """Apply one lifecycle transition that moves no money to a visible intent, with its event.
    Refused on a gateway mirror: its amount, tips and client session secret are Dojo's, and a
    change made only here would leave the mirror describing an intent Dojo does not have."""
    if await deps.upstream_for(scope) is not None:
        raise NotAllowedError(MIRROR_CHANGE_REFUSED)

    def action(uow: UnitOfWork, now: datetime) -> PaymentIntent:
        intent = lifecycle.ensure_visible(uow.intents.get(scope, intent_id))
        before = intent.status
        change(intent, now)
        save_with_events(deps, uow, intent, before, now)
        return intent

    return await execute_once(deps, ctx, scope, request, action, render)


async def cancel_intent(
    deps: Dependencies,
    ctx: RequestContext,
    scope: Scope,
    intent_id: str,
    request: IdempotentRequest,
    render: Render[PaymentIntent],
) -> Answer:
    """Cancel a Created intent; an upstream account's at Dojo first (the mirror follows)."""
    upstream = await deps.upstream_for(scope)
    if upstream is None:
        return await change_intent(deps, ctx, scope, intent_id, lifecycle.cancel, request, render)
    replayed = await stored_answer(deps, ctx, scope, request)
    if replayed is not None:
        return replayed
    canceled = await cancel_at_upstream(deps, scope, upstream, intent_id)
    return await execute_once(deps, ctx, scope, request, lambda _uow, _now: canceled, render)


async def capture_intent(
    deps: Dependencies,
    context: RequestContext,
    scope: Scope,
    intent_id: str,
    amounts: tuple[int, int | None],
    request: IdempotentRequest,
    render: Render[PaymentIntent],
) -> Answer:
    """Capture ``amounts`` (amount, tipsAmount) through the processor, once per idempotency key."""
    amount, tips_amount = amounts

    def change(intent: PaymentIntent, capture_id: str, now: datetime) -> None:
        lifecycle.capture(intent, capture_id, amount, tips_amount, now)

    moves = _Moves(OperationKind.CAPTURE, "cp", change, FailOperation.CAPTURE)
    reserve = _reserve_change(deps, context, scope, intent_id, moves, render)
    return await run_operation(deps, context, scope, intent_id, request, reserve)


async def reverse_intent(
    deps: Dependencies,
    context: RequestContext,
    scope: Scope,
    intent_id: str,
    request: IdempotentRequest,
    render: Render[PaymentIntent],
) -> Answer:
    """Reverse the authorization (or the same-day Auto capture) in full through the processor."""
    moves = _Moves(OperationKind.REVERSAL, "rvs", lifecycle.reverse)
    reserve = _reserve_change(deps, context, scope, intent_id, moves, render)
    return await run_operation(deps, context, scope, intent_id, request, reserve)


@dataclass(frozen=True, slots=True)
class _Moves:
    """A lifecycle change that moves money: its operation kind, the id prefix of what it creates,
    the change itself (given that id), and the sandbox failure it obeys, if any."""

    kind: OperationKind
    id_prefix: str
    change: Callable[[PaymentIntent, str, datetime], None]
    failure: FailOperation | None = None


def _reserve_change(
    deps: Dependencies,
    context: RequestContext,
    scope: Scope,
    intent_id: str,
    moves: _Moves,
    render: Render[PaymentIntent],
) -> Reserve:
    """Check the change on the intent as loaded, then hold the intent for it with one guarded
    UPDATE (same version, nothing in flight); the change itself is saved once it succeeded."""

    def reserve(uow: UnitOfWork, now: datetime, operation_id: str) -> Draft:
        intent = lifecycle.ensure_visible(uow.intents.get(scope, intent_id))
        # A capture lost at Dojo is judged from the intent's captures there (ADR 0032): the ones
        # it had before are named so that an earlier one of the same amount is not taken for it.
        prior = {PRIOR_CAPTURE_IDS: [c.id for c in intent.captures]}
        object_id = deps.ids.new_id(moves.id_prefix, scope.environment)
        moves.change(intent, object_id, now)
        if not uow.intents.reserve_operation(intent, operation_id):
            raise IntentBusyError(intent_id)
        failure = moves.failure
        captured = intent.captures[-1] if moves.kind is OperationKind.CAPTURE else None
        return Draft(
            kind=moves.kind,
            intent_id=intent_id,
            amount=captured.amount if captured else 0,
            object_id=object_id,
            answer=render(intent),
            injected=None if failure is None else take_failure(uow, context, scope, intent_id, failure),
            tips_amount=captured.tips_amount if captured else None,
            details=prior if captured else None,
        )

    return reserve


def refresh_secret_change(deps: Dependencies) -> Change:
    def change(intent: PaymentIntent, now: datetime) -> None:
        lifecycle.refresh_client_secret(intent, deps.ids.new_secret(), now)

    return change


def amount_change(amount: Money, lines: dict[str, list[Any]]) -> Change:
    return lambda intent, now: lifecycle.change_amount(intent, amount, lines, now)


def tips_change(tips: Money) -> Change:
    return lambda intent, now: lifecycle.change_tips(intent, tips, now)
