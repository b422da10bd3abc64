"""Terminal sessions (Dojo's Pay at Counter): create, read, cancel, answer a signature check, and
the sandbox's card driver.

A session moves on when it is read: whatever became due on the account's clock (the terminal
taking the session, a cancel completing, the expiry at ``expireAt``, the signature accepted after
80 s, the auto-pilot's card) is applied first, by whichever request or housekeeping pass gets
there. A matched refund reserves its amount at creation with the refund's guarded UPDATE, so it
counts against the cap at once; the reservation is given back if the session ends without a card.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from payintents.domain import lifecycle
from payintents.domain import terminal as rules
from payintents.domain.errors import (
    CurrencyMismatchError,
    DomainError,
    NotFoundError,
    RuleBrokenError,
)
from payintents.domain.intent import Scope, Status
from payintents.domain.terminal import CardOutcome, SessionStatus, SessionType, Terminal, TerminalSession
from payintents.service import terminal_cards as cards
from payintents.service.dependencies import Dependencies
from payintents.service.money_operations import IntentBusyError, longest_wait_s, settle, wait_for_intent
from payintents.service.ports import ConcurrentUpdateError, RequestContext, StoreBusyError, UnitOfWork
from payintents.service.refunds import refusal_of
from payintents.service.terminals import TERMINAL_NOT_FOUND, sandbox_now

log = logging.getLogger("payintents.terminals")
SESSION_NOT_FOUND = "The terminal session does not exist."
# A read applies at most this many due steps (each one moves the session on, so few are ever due).
MAX_STEPS = 8
HOUSEKEEPING_BATCH = 200


@dataclass(frozen=True, slots=True)
class SessionRequest:
    terminal_id: str
    session_type: SessionType
    payment_intent_id: str | None
    amount: int | None
    currency: str | None
    cardholder_not_present: bool | None
    software_house_id: str
    reseller_id: str | None


async def create_session(
    deps: Dependencies, context: RequestContext, scope: Scope, request: SessionRequest
) -> TerminalSession:
    waited_until = time.monotonic() + longest_wait_s(deps)
    while True:
        try:
            return await deps.runner().write(lambda uow: _open(deps, context, scope, request, uow))
        except IntentBusyError:
            # API refunds in flight on the intent: wait for them, as an API refund would.
            await wait_for_intent(deps, scope, str(request.payment_intent_id), waited_until)


def _open(
    deps: Dependencies, context: RequestContext, scope: Scope, request: SessionRequest, uow: UnitOfWork
) -> TerminalSession:
    now = context.now(deps.clock)
    terminal = uow.terminals.get_terminal(scope, request.terminal_id)
    if terminal is None:
        raise NotFoundError(TERMINAL_NOT_FOUND)
    session_id = deps.ids.new_id("ts", scope.environment)
    if not uow.terminals.claim_terminal(scope, terminal.id, session_id, now):
        raise RuleBrokenError(
            f"The terminal is {terminal.status.value}: a session needs an Available terminal."
        )
    amount, currency, held = _money_of(uow, scope, request)
    session = TerminalSession(
        id=session_id,
        scope=scope,
        terminal_id=terminal.id,
        session_type=request.session_type,
        amount=amount,
        currency=currency,
        status=SessionStatus.INITIATE_REQUESTED,
        created_at=now,
        updated_at=now,
        expire_at=now + rules.CARD_WAIT,
        software_house_id=request.software_house_id,
        reseller_id=request.reseller_id,
        payment_intent_id=request.payment_intent_id,
        cardholder_not_present=request.cardholder_not_present,
        held_amount=held,
    )
    rules.open_session(session)
    uow.terminals.add_session(session)
    return session


def _money_of(uow: UnitOfWork, scope: Scope, request: SessionRequest) -> tuple[int, str, int]:
    """(amount, currency, amount held on the intent) of a new session, its rules checked."""
    if request.session_type is SessionType.UNLINKED_REFUND:
        return int(request.amount or 0), str(request.currency), 0
    intent_id = str(request.payment_intent_id)
    intent = lifecycle.ensure_visible(uow.intents.get(scope, intent_id))
    if request.session_type is SessionType.SALE:
        if intent.status is not Status.CREATED:
            raise RuleBrokenError(
                f"A sale needs a payment intent that is Created; this one is {intent.status}."
            )
        if any(
            not s.is_final and s.session_type is SessionType.SALE
            for s in uow.terminals.sessions_for_intent(scope, intent_id)
        ):
            raise RuleBrokenError("The payment intent is already at a terminal.")
        return intent.total_amount.value, intent.total_amount.currency.value, 0
    currency = intent.amount.currency.value
    if request.currency is not None and request.currency != currency:
        raise CurrencyMismatchError(currency, request.currency)
    # No amount: the rest of what can be refunded, less what open sessions hold.
    amount = request.amount or intent.remaining_refundable - uow.terminals.held_on(scope, intent_id)
    if amount <= 0:
        raise RuleBrokenError("The payment intent has nothing left to refund.")
    if uow.intents.reserve_refund(scope, intent_id, amount) is None:
        raise refusal_of(uow, scope, intent_id, amount)
    return amount, currency, amount


async def get_session(deps: Dependencies, scope: Scope, session_id: str) -> TerminalSession:
    return await refresh(deps, scope, session_id)


async def refresh(deps: Dependencies, scope: Scope, session_id: str) -> TerminalSession:
    """The session with everything that became due applied."""
    session = await _read(deps, scope, session_id)
    terminal_id = session.terminal_id
    for _ in range(MAX_STEPS):
        terminal = await deps.runner().read(lambda uow: uow.terminals.get_terminal(scope, terminal_id))
        step = _due(deps, session, terminal, await sandbox_now(deps, scope))
        if step is None:
            return session
        # Someone else moved it first: read it again.
        with contextlib.suppress(ConcurrentUpdateError, rules.SessionStateError):
            await step()
        session = await _read(deps, scope, session_id)
    return session


def _due(  # noqa: PLR0911 (one return per kind of due step)
    deps: Dependencies, session: TerminalSession, terminal: Terminal | None, now: datetime
) -> Callable[[], Awaitable[None]] | None:
    status = session.status
    if status is SessionStatus.INITIATE_REQUESTED:
        return _write_step(deps, session, rules.WAITING_FOR_CARD, lambda s: rules.initiate(s, now), False)
    if status is SessionStatus.CANCEL_REQUESTED:
        done = frozenset({SessionStatus.CANCEL_REQUESTED})
        return _write_step(deps, session, done, lambda s: rules.finish_cancel(s, now), True)
    if session.operation_id is not None and not session.is_final:
        return lambda: _settle_operation(deps, session, now)
    if status in rules.WAITING_FOR_CARD and now >= session.expire_at:
        return _write_step(deps, session, rules.WAITING_FOR_CARD, lambda s: rules.expire(s, now), True)
    outcome = None if terminal is None else terminal.auto_outcome
    delay = timedelta(milliseconds=0 if terminal is None else terminal.auto_delay_ms)
    if status in rules.WAITING_FOR_CARD and outcome is not None and now >= session.created_at + delay:
        return lambda: cards.present(deps, session, outcome, None, now)
    if (
        status is SessionStatus.SIGNATURE_REQUIRED
        and session.signature_due_at
        and now >= session.signature_due_at
    ):
        return lambda: _answer_signature(deps, session, True, now, "No answer in time: accepted.")
    return None


def _write_step(
    deps: Dependencies,
    session: TerminalSession,
    allowed: frozenset[SessionStatus],
    change: Callable[[TerminalSession], None],
    ends: bool,
) -> Callable[[], Awaitable[None]]:
    def unit(uow: UnitOfWork) -> None:
        current = cards.reload_session(uow, session.scope, session.id, allowed)
        change(current)
        if ends:
            cards.close(uow, current, current.updated_at)
        else:
            uow.terminals.save_session(current)

    async def step() -> None:
        await deps.runner().write(unit)

    return step


async def _settle_operation(deps: Dependencies, session: TerminalSession, now: datetime) -> None:
    operation_id = str(session.operation_id)
    operation = await deps.runner().read(lambda uow: uow.operations.get(operation_id))
    if operation is None:
        raise StoreBusyError(f"operation {operation_id} vanished")
    settled = await settle(deps, operation)
    await deps.runner().write(lambda uow: cards.end_refund_from_operation(uow, session, settled.status, now))


async def present_card(
    deps: Dependencies, scope: Scope, session_id: str, outcome: CardOutcome, number: str | None
) -> TerminalSession:
    """The sandbox's driver: a card at the terminal of a session waiting for one."""
    session = await refresh(deps, scope, session_id)
    await cards.present(deps, session, outcome, number, await sandbox_now(deps, scope))
    return await refresh(deps, scope, session_id)


async def cancel(deps: Dependencies, scope: Scope, session_id: str) -> TerminalSession:
    """Only before a card is presented (else SessionStateError, 422); answers CancelRequested."""
    await refresh(deps, scope, session_id)
    now = await sandbox_now(deps, scope)

    def unit(uow: UnitOfWork) -> TerminalSession:
        current = cards.reload_session(uow, scope, session_id, frozenset(SessionStatus))
        rules.request_cancel(current, now)
        uow.terminals.save_session(current)
        return current

    return await deps.runner().write(unit)


async def answer_signature(
    deps: Dependencies, scope: Scope, session_id: str, accepted: bool
) -> TerminalSession:
    """Only in SignatureVerificationRequired (else 422)."""
    session = await refresh(deps, scope, session_id)
    rules.ensure_signature_pending(session)
    await _answer_signature(deps, session, accepted, await sandbox_now(deps, scope), "Accepted by the EPOS.")
    return await refresh(deps, scope, session_id)


async def _answer_signature(
    deps: Dependencies, session: TerminalSession, accepted: bool, now: datetime, why: str
) -> None:
    pending = frozenset({SessionStatus.SIGNATURE_REQUIRED})
    if not accepted:
        await _write_step(deps, session, pending, lambda s: rules.reject_signature(s, now), True)()
        return
    await _write_step(deps, session, pending, lambda s: rules.accept_signature(s, now, why), False)()
    await deps.runner().write(
        lambda uow: cards.settle_sale(deps, uow, session.scope, session.id, True, None, now)
    )


async def screen_of(deps: Dependencies, scope: Scope, terminal_id: str) -> TerminalSession | None:
    """The terminal's newest session, moved on to now: what the virtual terminal's screen shows."""
    latest = await deps.runner().read(lambda uow: uow.terminals.latest_on(scope, terminal_id))
    return None if latest is None else await refresh(deps, scope, latest.id)


async def unlinked_refunds(deps: Dependencies, scope: Scope, limit: int) -> list[TerminalSession]:
    return await deps.runner().read(lambda uow: uow.terminals.unlinked_refunds(scope, limit))


async def advance_open_sessions(deps: Dependencies) -> int:
    """Housekeeping: move every unfinished session on (expiry, signature, auto-pilot); how many."""
    open_now = await deps.runner().read(lambda uow: uow.terminals.open_sessions(HOUSEKEEPING_BATCH))
    for session in open_now:
        try:
            await refresh(deps, session.scope, session.id)
        except DomainError as refused:
            # E.g. a sale's intent paid online meanwhile: the session waits for its expiry.
            log.info("terminal session %s not moved on: %s", session.id, refused.detail)
    return len(open_now)


async def _read(deps: Dependencies, scope: Scope, session_id: str) -> TerminalSession:
    found = await deps.runner().read(lambda uow: uow.terminals.get_session(scope, session_id))
    if found is None:
        raise NotFoundError(SESSION_NOT_FOUND)
    return found
