"""Saving a changed payment intent together with the outbox event its status change causes."""

from __future__ import annotations

from datetime import datetime

from payintents.domain.events import EventName, intent_event
from payintents.domain.intent import PaymentIntent, Status
from payintents.service.dependencies import Dependencies
from payintents.service.ports import UnitOfWork


def save_with_events(
    deps: Dependencies,
    uow: UnitOfWork,
    intent: PaymentIntent,
    before: Status,
    now: datetime,
    finishing: str | None = None,
) -> None:
    """Persist a changed intent; a status change also writes its outbox event. ``finishing`` is
    the capture or reversal in flight whose success this change records."""
    uow.intents.save(intent, finishing)
    if intent.status is not before:
        event_id = deps.ids.new_id("evt", intent.scope.environment)
        uow.outbox.add(
            intent_event(event_id, EventName.PAYMENT_INTENT_STATUS_UPDATED, intent, now),
            deps.clock.now(),
        )
