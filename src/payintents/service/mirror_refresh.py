"""The mirror's refresh paths (ADR 0033): how a gateway account's mirrored intents learn what
happened at Dojo (a shopper paid on Dojo's page, a capture or a cancel made there).

- a webhook from Dojo names an intent: it is read at Dojo and followed (``refresh_mirror``);
- a read of an intent compared with Dojo longer ago than ``upstream_max_age_s`` refreshes it
  first, waiting at most ``READ_WAIT_S`` for Dojo, else it answers the mirror (``refresh_if_stale``);
- the housekeeping polls open mirrors, each at most once per ``upstream_poll_interval_s``, a
  bounded number per pass and for a bounded time (``poll_open_mirrors``): webhooks can be lost.

Dojo's answer is the truth; the mirror follows it forward only (``follow_upstream``). Each time
Dojo answered about an intent is noted (``mirror_checks``), which sets the mirror's age.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from payintents.domain.intent import Environment, PaymentIntent, Scope, Status
from payintents.service.dependencies import Dependencies
from payintents.service.mirror import follow_upstream
from payintents.service.ports import (
    ProcessorDeclinedError,
    ProcessorOutcomeUnknownError,
    ProcessorUnavailableError,
    UnitOfWork,
)
from payintents.service.upstream_sync_ports import MirrorToCheck

log = logging.getLogger("payintents.gateway")

# How long a read waits for Dojo before answering the mirror as it is.
READ_WAIT_S = 3.0
# How long one poll waits for Dojo about one intent.
POLL_WAIT_S = 5.0
# Per housekeeping pass: at most this many intents, this many at a time, and no new one started
# after this long (a slow Dojo holds the pass for at most POLL_BUDGET_S + POLL_WAIT_S).
POLL_LIMIT = 50
POLL_CONCURRENCY = 4
POLL_BUDGET_S = 5.0
# Statuses Dojo may still move on from: a payment, a capture, a reversal, a cancel.
MAY_MOVE_AT_UPSTREAM = frozenset({Status.CREATED, Status.AUTHORIZED, Status.CAPTURED})
# What a refresh that could not ask Dojo raises: the mirror stays as it was.
UPSTREAM_FAILURES = (
    ProcessorUnavailableError,
    ProcessorOutcomeUnknownError,
    ProcessorDeclinedError,
    TimeoutError,
)


async def refresh_mirror(
    deps: Dependencies, scope: Scope, intent_id: str, wait_s: float
) -> PaymentIntent | None:
    """Read the intent at Dojo (waiting at most ``wait_s``) and bring its mirror there; the
    mirror, or None if the scope has no upstream or no such mirror. Raises UPSTREAM_FAILURES."""
    upstream = await deps.upstream_for(scope)
    if upstream is None:
        return None
    observed = await asyncio.wait_for(upstream.get_intent(intent_id), wait_s)
    followed = await follow_upstream(deps, scope, observed)
    if followed is not None:
        now = deps.clock.now()
        # Losing this note to a crash costs one more look at Dojo, nothing else.
        await deps.runner().write(
            lambda uow: uow.mirror_checks.mark(scope.account_id, intent_id, now), durable=False
        )
    return followed


async def refresh_if_stale(deps: Dependencies, scope: Scope, intent_id: str) -> None:
    """Before a read: refresh an upstream account's mirror that Dojo may have moved on and that
    was compared with Dojo longer ago than ``upstream_max_age_s``. If Dojo does not answer in
    time, the read answers the mirror as it is (and says so in the log)."""
    if scope.environment is not Environment.PRODUCTION or await deps.upstream_for(scope) is None:
        return

    def look(uow: UnitOfWork) -> tuple[PaymentIntent | None, datetime | None]:
        return uow.intents.get(scope, intent_id), uow.mirror_checks.checked_at(intent_id)

    intent, checked_at = await deps.runner().read(look)
    if intent is None or intent.status not in MAY_MOVE_AT_UPSTREAM:
        return
    max_age = timedelta(seconds=deps.upstream_max_age_s)
    if checked_at is not None and deps.clock.now() - checked_at < max_age:
        return
    try:
        await refresh_mirror(deps, scope, intent_id, READ_WAIT_S)
    except UPSTREAM_FAILURES as failed:
        log.warning(
            "read of %s answered from the mirror: Dojo did not answer (%s)", intent_id, type(failed).__name__
        )


@dataclass
class PollReport:
    checked: int = 0
    failed: int = 0
    # Due but not reached in this pass (the limit or the time budget): the next pass takes them.
    left: int = 0
    changed: list[str] = field(default_factory=list)


async def poll_open_mirrors(deps: Dependencies) -> PollReport:
    """One pass of the polling fallback: open mirrors of upstream accounts not compared with Dojo
    for ``upstream_poll_interval_s``, least recently compared first."""
    now = deps.clock.now()
    since = now - timedelta(seconds=deps.upstream_poll_interval_s)
    due = await deps.runner().read(lambda uow: uow.mirror_checks.due(now, since, POLL_LIMIT))
    report = PollReport()
    if not due:
        return report
    queue = list(reversed(due))
    stop_at = time.monotonic() + POLL_BUDGET_S

    async def worker() -> None:
        while queue and time.monotonic() < stop_at:
            await _poll_one(deps, queue.pop(), report)

    await asyncio.gather(*(worker() for _ in range(min(POLL_CONCURRENCY, len(due)))))
    report.left = len(queue)
    return report


async def _poll_one(deps: Dependencies, due: MirrorToCheck, report: PollReport) -> None:
    scope = Scope(due.account_id, Environment.PRODUCTION)
    before = await deps.runner().read(lambda uow: uow.intents.get(scope, due.intent_id))
    try:
        after = await refresh_mirror(deps, scope, due.intent_id, POLL_WAIT_S)
    except UPSTREAM_FAILURES as failed:
        report.failed += 1
        log.warning("poll of %s at Dojo failed (%s)", due.intent_id, type(failed).__name__)
        return
    report.checked += 1
    if before is not None and after is not None and after.status is not before.status:
        report.changed.append(due.intent_id)
