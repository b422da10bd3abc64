"""Background housekeeping: intents whose time ran out, and idempotency keys past retention.

An intent past ``expireAt`` is canceled, and an authorization past ``autoExpireIn`` is released,
each in place. An auto-capture that is due moves money, so it runs as a capture money operation
(reserve, processor call, record: ADR 0026) with no caller key; if the processor refuses or does
not answer, the intent stays Authorized and the next pass tries again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from payintents.domain import lifecycle
from payintents.domain.errors import NotFoundError, RuleBrokenError, StateConflictError
from payintents.domain.idempotency import StoredResponse
from payintents.domain.intent import PaymentIntent, Scope
from payintents.service.dependencies import Dependencies
from payintents.service.idempotent import IdempotentRequest
from payintents.service.intent_saves import save_with_events
from payintents.service.intents import capture_intent
from payintents.service.ports import (
    ConcurrentUpdateError,
    ProcessorDeclinedError,
    ProcessorTimeoutError,
    ProcessorUnavailableError,
    RequestContext,
    StoreBusyError,
    UnitOfWork,
)

log = logging.getLogger("payintents.expiry")

# Background passes run on real time; a sandbox account's own pass on its moved clock.
REAL_TIME = RequestContext()

BATCH_SIZE = 500
# Why an auto-capture may not happen on this pass; the next pass tries again.
_CAPTURE_NOT_DONE = (
    ProcessorDeclinedError,
    ProcessorUnavailableError,
    ProcessorTimeoutError,
    StoreBusyError,
    # The intent changed meanwhile (captured, reversed, canceled): nothing left to capture.
    StateConflictError,
    RuleBrokenError,
    NotFoundError,
)


@dataclass(frozen=True, slots=True)
class ExpiryReport:
    intents_expired: int
    keys_reaped: int


async def run_expiry_pass(
    deps: Dependencies, only: Scope | None = None, ctx: RequestContext = REAL_TIME
) -> ExpiryReport:
    """One pass: expire what is due (one operation per intent) and reap old idempotency keys.

    ``only`` limits the pass to one sandbox account, whose clock (``ctx``) may run ahead of real
    time.
    """
    now = ctx.now(deps.clock)
    due = await deps.runner().read(lambda uow: uow.intents.due_for_expiry(now, BATCH_SIZE, only))
    expired = 0
    for scope, intent_id in due:
        expired += await _expire_one(deps, ctx, scope, intent_id)
    oldest_kept = now - deps.idempotency_retention
    reaped = await deps.runner().write(lambda uow: uow.idempotency.reap(oldest_kept, only))
    return ExpiryReport(expired, reaped)


async def _expire_one(deps: Dependencies, ctx: RequestContext, scope: Scope, intent_id: str) -> bool:
    intent = await deps.runner().read(lambda uow: uow.intents.get(scope, intent_id))
    if intent is None:
        return False
    amount = lifecycle.auto_capture_due(intent, ctx.now(deps.clock))
    if amount is not None:
        return await _auto_capture(deps, ctx, scope, intent_id, amount)
    try:
        return await deps.runner().write(lambda uow: _expire_in_place(deps, ctx, uow, scope, intent_id))
    except ConcurrentUpdateError:
        # Someone else changed the intent meanwhile (or holds it for a capture or reversal in
        # flight); the next pass looks again.
        return False


def _expire_in_place(
    deps: Dependencies, ctx: RequestContext, uow: UnitOfWork, scope: Scope, intent_id: str
) -> bool:
    intent = uow.intents.get(scope, intent_id)
    now = ctx.now(deps.clock)
    if intent is None:
        return False
    before = intent.status
    if not lifecycle.expire_if_due(intent, now):
        return False
    save_with_events(deps, uow, intent, before, now)
    return True


async def _auto_capture(
    deps: Dependencies, ctx: RequestContext, scope: Scope, intent_id: str, amount: int
) -> bool:
    # No caller key: a pass that finds the intent captured (by this pass, a client or another
    # worker) is refused by the capture rule and counts nothing.
    request = IdempotentRequest(key=None, target=f"auto-capture:{intent_id}", fingerprint="")
    try:
        await capture_intent(deps, ctx, scope, intent_id, (amount, None), request, _background_answer)
    except _CAPTURE_NOT_DONE as exc:
        log.warning("auto-capture of %s not done on this pass: %s", intent_id, exc)
        return False
    return True


def _background_answer(intent: PaymentIntent) -> StoredResponse:
    """No client waits for an auto-capture: its operation stores an empty answer."""
    return StoredResponse(200, b"{}")
