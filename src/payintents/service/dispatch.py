"""Delivering webhooks: lease due deliveries, sign and send each, record the attempt.

At-least-once: a dispatcher that dies after sending but before recording leaves the lease to
expire, and another dispatcher sends again. Receivers dedupe on the event id (``webhook-id``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from payintents.domain.webhook_signing import delivery_body, signed_headers
from payintents.domain.webhooks import MAX_RETRY_AFTER, next_attempt_at
from payintents.service.dependencies import Dependencies
from payintents.service.ports import AttemptRecord, DeliveryJob, SendResult, SubscriptionRoom, WebhookSender

SEND_TIMEOUT_S = 15.0
# Beyond the send's deadline, how long resolving the receiver's host may take: the system
# resolver's own limit (glibc: 5 s a try, 2 tries, up to 3 name servers), which no caller can cut.
RESOLVE_ALLOWANCE_S = 30.0
# Beyond the send, how long recording one attempt may wait for the database (busy timeout).
RECORD_ALLOWANCE_S = 5.0
GONE = 410


@dataclass(frozen=True, slots=True)
class DispatchReport:
    claimed: int
    delivered: int
    failed_attempts: int


def lease_for(timeout_s: float, sends_in_a_row: int = 1) -> timedelta:
    """A lease that outlasts ``sends_in_a_row`` sends made one after another: each is over within
    ``timeout_s`` once its host is resolved (the sender's deadline), then records its attempt."""
    return timedelta(seconds=sends_in_a_row * (timeout_s + RESOLVE_ALLOWANCE_S + RECORD_ALLOWANCE_S))


# The default lease of one claim; the worker sizes its own from the configured timeout.
LEASE = lease_for(SEND_TIMEOUT_S)


def claim(
    deps: Dependencies,
    owner: str,
    limit: int,
    lease: timedelta = LEASE,
    room: SubscriptionRoom | None = None,
) -> list[DeliveryJob]:
    """Lease up to ``limit`` due deliveries, no more of one subscription than ``room`` allows."""
    # Most polls find nothing due: a read says so without the write lock (on SQLite a write would
    # make the API's writer wait for this poll, twice a second per dispatcher).
    with deps.read() as reading:
        if not reading.deliveries.any_due(deps.clock.now(), room.full() if room else ()):
            return []
    with deps.uow() as uow:
        now = deps.clock.now()
        jobs = uow.deliveries.claim_due(now, owner, now + lease, limit, room)
        uow.commit()
    return jobs


def deliver(deps: Dependencies, sender: WebhookSender, owner: str, job: DeliveryJob) -> str:
    """Send one claimed delivery and record the attempt; returns the outcome recorded."""
    attempted_at = deps.clock.now()
    body = delivery_body(job.event)
    headers = signed_headers(job.secret_value, job.event.id, int(attempted_at.timestamp()), body)
    result = sender.send(job.subscription_url, body, headers, job.event.scope.environment)
    outcome, retry_at = _judge(result, job.attempts_made + 1, deps)
    record = AttemptRecord(
        attempt=job.attempts_made + 1,
        attempted_at=attempted_at,
        status_code=result.status_code,
        duration_ms=result.duration_ms,
        error=result.error,
        next_attempt_at=retry_at,
    )
    with deps.uow() as uow:
        recorded = uow.deliveries.record_attempt(job, owner, record, outcome, deps.clock.now())
        uow.commit()
    return outcome if recorded else "lease-lost"


def _judge(result: SendResult, attempts_made: int, deps: Dependencies) -> tuple[str, datetime | None]:
    code = result.status_code
    if code is not None and 200 <= code < 300:
        return "delivered", None
    if code == GONE:
        return "disabled", None
    retry_after = None
    if result.retry_after_s is not None:
        # Capped before the timedelta: "Retry-After: 99999999999999999999" must not overflow it.
        retry_after = timedelta(seconds=min(result.retry_after_s, MAX_RETRY_AFTER.total_seconds()))
    # Jitter spreads retries of many failed deliveries; not security-sensitive randomness.
    retry_at = next_attempt_at(
        attempts_made, deps.clock.now(), random.random(), retry_after, deps.webhook_retry_scale
    )
    return ("retry", retry_at) if retry_at is not None else ("failed", None)


def dispatch_once(deps: Dependencies, sender: WebhookSender, owner: str, limit: int = 20) -> DispatchReport:
    """Claim a batch and deliver it in this thread, one after another (the worker sends in parallel)."""
    jobs = claim(deps, owner, limit, lease_for(deps.webhook_timeout_s, limit))
    outcomes = [deliver(deps, sender, owner, job) for job in jobs]
    return DispatchReport(
        claimed=len(jobs),
        delivered=outcomes.count("delivered"),
        failed_attempts=sum(1 for o in outcomes if o in ("retry", "failed")),
    )
