"""Background housekeeping: intents whose time ran out, and idempotency keys past retention."""

from __future__ import annotations

from dataclasses import dataclass

from payintents.domain import lifecycle
from payintents.domain.intent import Scope
from payintents.service.dependencies import Dependencies
from payintents.service.intent_saves import save_with_events
from payintents.service.ports import ConcurrentUpdateError, RequestContext

# Background passes run on real time; a sandbox account's own pass on its moved clock.
REAL_TIME = RequestContext()

BATCH_SIZE = 500


@dataclass(frozen=True, slots=True)
class ExpiryReport:
    intents_expired: int
    keys_reaped: int


def run_expiry_pass(
    deps: Dependencies, only: Scope | None = None, ctx: RequestContext = REAL_TIME
) -> ExpiryReport:
    """One pass: expire what is due (one transaction per intent) and reap old idempotency keys.

    ``only`` limits the pass to one sandbox account, whose clock (``ctx``) may run ahead of real
    time.
    """
    with deps.read() as uow:
        due = uow.intents.due_for_expiry(ctx.now(deps.clock), BATCH_SIZE, only)
    expired = sum(1 for scope, intent_id in due if _expire_one(deps, ctx, scope, intent_id))
    with deps.uow() as uow:
        reaped = uow.idempotency.reap(ctx.now(deps.clock) - deps.idempotency_retention, only)
        uow.commit()
    return ExpiryReport(expired, reaped)


def _expire_one(deps: Dependencies, ctx: RequestContext, scope: Scope, intent_id: str) -> bool:
    try:
        with deps.uow() as uow:
            intent = uow.intents.get(scope, intent_id)
            now = ctx.now(deps.clock)
            if intent is None:
                return False
            before = intent.status
            if not lifecycle.expire_if_due(intent, deps.ids.new_id("cp", scope.environment), now):
                return False
            # An intent with a capture or reversal in flight is not saved (ConcurrentUpdateError):
            # the next pass looks again.
            save_with_events(deps, uow, intent, before, now)
            uow.commit()
            return True
    except ConcurrentUpdateError:
        # Someone else changed the intent meanwhile; the next pass looks again.
        return False
