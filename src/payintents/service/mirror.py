"""Gateway use cases on intents (ADR 0031): an upstream account's production intent is created
at Dojo first and mirrored here under Dojo's id, with Dojo's answer stored for replays; the
mirror is brought up to Dojo's state (``follow_upstream``) before money moves on it, and by
whatever else learns Dojo's state (webhooks, polling); a cancel happens at Dojo first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from payintents.domain import lifecycle
from payintents.domain.events import EventName, intent_event
from payintents.domain.intent import PaymentIntent, Scope, Status
from payintents.domain.lifecycle import IntentSpec
from payintents.domain.mirror import follow, open_mirror
from payintents.service.dependencies import Dependencies
from payintents.service.idempotent import Answer, IdempotentRequest, Render, execute_once, stored_answer
from payintents.service.intent_saves import save_with_events
from payintents.service.ports import (
    ConcurrentUpdateError,
    ProcessorUnavailableError,
    RequestContext,
    UnitOfWork,
)
from payintents.service.upstream_ports import Upstream, UpstreamIntent

# Local statuses in which Dojo may be ahead of the mirror (a payment at Dojo's page, a capture).
AWAITING_UPSTREAM = frozenset({Status.CREATED, Status.AUTHORIZED})
SAVE_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class Forwarded:
    """The caller's create request as sent on to Dojo: its validated body (canonical names), its
    API version, and how Dojo's answer is stored and replayed."""

    body: Mapping[str, Any]
    version: str
    render: Render[Mapping[str, Any]]


async def create_mirrored(
    deps: Dependencies,
    context: RequestContext,
    scope: Scope,
    spec: IntentSpec,
    request: IdempotentRequest,
    upstream: Upstream,
    forwarded: Forwarded,
) -> Answer:
    """Create at Dojo, then mirror under Dojo's id; a key seen before replays without a call.
    (Dojo takes no key on creation: two racing requests with one key may leave one unpaid intent
    at Dojo that nothing here refers to; it expires there.)"""
    replayed = await stored_answer(deps, context, scope, request)
    if replayed is not None:
        return replayed
    created = await upstream.create_intent(forwarded.body, forwarded.version)

    def action(uow: UnitOfWork, now: datetime) -> Mapping[str, Any]:
        intent = open_mirror(spec, scope, created.state, created.body.get("paymentLink"), now)
        uow.intents.add(intent)
        event_id = deps.ids.new_id("evt", scope.environment)
        uow.outbox.add(
            intent_event(event_id, EventName.PAYMENT_INTENT_CREATED, intent, now), deps.clock.now()
        )
        return created.body

    return await execute_once(deps, context, scope, request, action, forwarded.render)


async def refresh_before_money_moves(deps: Dependencies, scope: Scope, intent_id: str) -> None:
    """For an upstream account: bring a mirror Dojo may be ahead of (Created, Authorized) to
    Dojo's state, so a refund or capture reserves against what Dojo has captured."""
    upstream = await deps.upstream_for(scope)
    if upstream is None:
        return
    local = await deps.runner().read(lambda uow: uow.intents.get(scope, intent_id))
    if local is None or local.status not in AWAITING_UPSTREAM:
        return
    try:
        # No longer than a call on the money path (the client alone retries at its read timeout).
        async with asyncio.timeout(deps.processor_timeout_s):
            observed = await upstream.get_intent(intent_id)
    except TimeoutError:
        raise ProcessorUnavailableError(
            "Dojo did not say in time where this payment intent stands; nothing was done: retry."
        ) from None
    await follow_upstream(deps, scope, observed)


async def cancel_at_upstream(
    deps: Dependencies, scope: Scope, upstream: Upstream, intent_id: str
) -> PaymentIntent:
    """Cancel at Dojo (which refuses unless the intent is Created), then follow in the mirror."""
    local = await deps.runner().read(lambda uow: lifecycle.ensure_visible(uow.intents.get(scope, intent_id)))
    followed = await follow_upstream(deps, scope, await upstream.cancel_intent(local.id))
    return followed or local


async def follow_upstream(deps: Dependencies, scope: Scope, observed: UpstreamIntent) -> PaymentIntent | None:
    """Apply what Dojo reports of an intent to its mirror (with the status events); the mirror,
    or None if there is none. Left as it is while a money operation holds the intent: that
    operation's own record brings the change."""

    def unit(uow: UnitOfWork) -> PaymentIntent | None:
        intent = uow.intents.get(scope, observed.id)
        if intent is None:
            return None
        before, now = intent.status, deps.clock.now()
        if follow(intent, observed.state, now):
            save_with_events(deps, uow, intent, before, now)
        return intent

    for _ in range(SAVE_ATTEMPTS):
        try:
            return await deps.runner().write(unit)
        except ConcurrentUpdateError:
            continue
    return None
