"""What a card at a virtual terminal does to a session, and to money.

- A sale asks the processor to authorize the card, as the checkout does, then records the payment
  on the intent (Auto → Captured, Manual → Authorized) with the same status events and webhooks.
- A matched refund already holds its amount on the intent (the guarded UPDATE at creation); the
  card turns that hold into a refund money operation, which goes through the same processor call
  and record step as an API refund (service/money_operations.py, ADR 0026). A decline gives the
  hold back.
- An unlinked refund moves no intent's money: the session itself is the record.

Each write re-reads the session and saves it over its version, so a card racing a cancel, the
expiry or another card changes it once.
"""

from __future__ import annotations

import json
from datetime import datetime

from payintents.domain import lifecycle
from payintents.domain import terminal as rules
from payintents.domain.card import mask_card_number, shown_last_digits
from payintents.domain.errors import RuleBrokenError
from payintents.domain.idempotency import StoredResponse
from payintents.domain.intent import Scope, Status
from payintents.domain.money_operation import MoneyOperation, OperationKind, OperationStatus
from payintents.domain.terminal import CardOutcome, SessionStatus, SessionType, TerminalSession
from payintents.service.dependencies import Dependencies
from payintents.service.intent_saves import save_with_events
from payintents.service.money_operations import Draft, call_and_record, new_operation
from payintents.service.ports import ProcessorDeclinedError, ProcessorUnavailableError, UnitOfWork

# Dojo's public test cards: one approved, one declined; a terminal reads no expiry or CVV.
APPROVED_TEST_CARD = "5200000000001005"
DECLINED_TEST_CARD = "4456530000001013"
TERMINAL_CARD_EXPIRY = "12/30"
TERMINAL_CARD_CVV = "000"


async def present(
    deps: Dependencies, session: TerminalSession, outcome: CardOutcome, number: str | None, now: datetime
) -> None:
    """The card's effect on a session waiting for one."""
    rules.ensure_waiting_for_card(session)
    if session.session_type is SessionType.SALE:
        await _sale_card(deps, session, outcome, number, now)
    elif outcome is CardOutcome.SIGNATURE_REQUIRED:
        raise RuleBrokenError("Only a sale asks for the cardholder's signature.")
    elif session.session_type is SessionType.MATCHED_REFUND:
        await _matched_refund_card(deps, session, outcome is CardOutcome.APPROVED, number, now)
    else:
        await deps.runner().write(
            lambda uow: _finish_unlinked(uow, session, outcome is CardOutcome.APPROVED, number, now)
        )


def reload_session(
    uow: UnitOfWork, scope: Scope, session_id: str, allowed: frozenset[SessionStatus]
) -> TerminalSession:
    found = uow.terminals.get_session(scope, session_id)
    if found is None:
        raise rules.SessionStateError("The terminal session is gone.")
    if found.status not in allowed:
        raise rules.SessionStateError(f"The terminal session is {found.status.value}; nothing was changed.")
    return found


def close(uow: UnitOfWork, session: TerminalSession, now: datetime) -> None:
    """Save a session that has ended: its hold given back, its terminal free."""
    if session.held_amount and session.payment_intent_id is not None:
        uow.intents.release_refund(session.scope, session.payment_intent_id, session.held_amount)
        session.held_amount = 0
    uow.terminals.free_terminal(session.terminal_id, session.id, now)
    uow.terminals.save_session(session)


async def _sale_card(
    deps: Dependencies, session: TerminalSession, outcome: CardOutcome, number: str | None, now: datetime
) -> None:
    card_number = number or (DECLINED_TEST_CARD if outcome is CardOutcome.DECLINED else APPROVED_TEST_CARD)
    intent_id = str(session.payment_intent_id)
    intent = await deps.runner().read(lambda uow: uow.intents.get(session.scope, intent_id))
    result = await deps.processor.authorize(
        lifecycle.ensure_visible(intent), card_number, TERMINAL_CARD_EXPIRY, TERMINAL_CARD_CVV
    )
    approved = result.outcome == "approved" and outcome is not CardOutcome.DECLINED
    if approved and outcome is CardOutcome.SIGNATURE_REQUIRED:
        await deps.runner().write(lambda uow: _ask_signature(uow, session, result.card, now))
        return
    await deps.runner().write(
        lambda uow: settle_sale(deps, uow, session.scope, session.id, approved, result.card, now)
    )


def _ask_signature(uow: UnitOfWork, session: TerminalSession, card: dict[str, str], now: datetime) -> None:
    current = reload_session(uow, session.scope, session.id, rules.WAITING_FOR_CARD)
    rules.require_signature(current, now, card)
    uow.terminals.save_session(current)


def settle_sale(
    deps: Dependencies,
    uow: UnitOfWork,
    scope: Scope,
    session_id: str,
    approved: bool,
    card: dict[str, str] | None,
    now: datetime,
) -> None:
    """Record a sale's card on its intent, like a checkout payment, and end the session."""
    waiting = rules.WAITING_FOR_CARD | {SessionStatus.SIGNATURE_ACCEPTED}
    session = reload_session(uow, scope, session_id, waiting)
    intent = lifecycle.ensure_visible(uow.intents.get(scope, str(session.payment_intent_id)))
    before = intent.status
    paid_with = card or session.card or {}
    if approved:
        lifecycle.authorize(
            intent,
            transaction_id=deps.ids.new_uuid(),
            capture_id=deps.ids.new_id("cp", scope.environment),
            card=paid_with,
            now=now,
        )
        rules.approve(session, now, paid_with, captured=intent.status is Status.CAPTURED)
    else:
        lifecycle.record_decline(intent, paid_with, now)
        rules.decline(session, now, paid_with)
    save_with_events(deps, uow, intent, before, now)
    close(uow, session, now)


async def _matched_refund_card(
    deps: Dependencies, session: TerminalSession, approved: bool, number: str | None, now: datetime
) -> None:
    card = _refund_card(number)
    if not approved:
        await deps.runner().write(lambda uow: _end_refund(uow, session, False, card, now))
        return
    operation = await deps.runner().write(lambda uow: _hand_over(deps, uow, session, card, now))
    try:
        await call_and_record(deps, operation)
    except (ProcessorDeclinedError, ProcessorUnavailableError):
        # The record step already gave the amount back; the session ends declined.
        await deps.runner().write(lambda uow: _end_refund(uow, session, False, card, now))
        return
    await deps.runner().write(lambda uow: _end_refund(uow, session, True, card, now))


def _hand_over(
    deps: Dependencies, uow: UnitOfWork, session: TerminalSession, card: dict[str, str], now: datetime
) -> MoneyOperation:
    """The session's hold becomes a pending refund operation in one transaction: the amount stays
    reserved on the intent throughout, first for the session, then for the operation."""
    current = reload_session(uow, session.scope, session.id, rules.WAITING_FOR_CARD)
    refund_id = deps.ids.new_id("rfnd", None)
    operation_id = deps.ids.new_id("op", session.scope.environment)
    draft = Draft(
        kind=OperationKind.REFUND,
        intent_id=str(current.payment_intent_id),
        amount=current.amount,
        object_id=refund_id,
        answer=StoredResponse(
            200, json.dumps({"refundId": refund_id, "terminalSessionId": current.id}).encode()
        ),
        details={"refundReason": "Matched refund at a card terminal", "notes": current.id},
    )
    operation = new_operation(deps, session.scope, operation_id, draft, now)
    uow.operations.add(operation)
    current.held_amount = 0
    current.operation_id = operation.id
    current.card = card
    uow.terminals.save_session(current)
    return operation


def _end_refund(
    uow: UnitOfWork, session: TerminalSession, approved: bool, card: dict[str, str] | None, now: datetime
) -> None:
    current = reload_session(uow, session.scope, session.id, rules.WAITING_FOR_CARD)
    if approved:
        rules.approve(current, now, card, captured=True)
    else:
        rules.decline(current, now, card)
    close(uow, current, now)


def end_refund_from_operation(
    uow: UnitOfWork, session: TerminalSession, status: OperationStatus, now: datetime
) -> None:
    """A matched refund whose operation was settled elsewhere (a timeout, then the reconciler)."""
    _end_refund(uow, session, status is OperationStatus.SUCCEEDED, session.card, now)


def _finish_unlinked(
    uow: UnitOfWork, session: TerminalSession, approved: bool, number: str | None, now: datetime
) -> None:
    _end_refund(uow, session, approved, _refund_card(number), now)


def _refund_card(number: str | None) -> dict[str, str]:
    digits = number or APPROVED_TEST_CARD
    return {"cardNumber": mask_card_number(digits), "last4PAN": shown_last_digits(digits)}
