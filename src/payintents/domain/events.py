"""Outbox events: what happened to a payment intent, written in the same transaction as the change."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from payintents.domain.intent import CaptureMode, PaymentIntent, Scope, Status


class EventName(StrEnum):
    PAYMENT_INTENT_CREATED = "payment_intent.created"
    PAYMENT_INTENT_STATUS_UPDATED = "payment_intent.status_updated"
    REFUND_CREATED = "refund.created"


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    id: str
    scope: Scope
    name: EventName
    payment_intent_id: str
    created_at: datetime
    data: dict[str, Any]


def intent_event(event_id: str, name: EventName, intent: PaymentIntent, now: datetime) -> OutboxEvent:
    """The payload Dojo sends for intent events (docs/webhooks.md, "A delivery")."""
    return status_event(event_id, name, intent.scope, intent.id, intent.status, intent.capture_mode, now)


def status_event(
    event_id: str,
    name: EventName,
    scope: Scope,
    intent_id: str,
    status: Status,
    capture_mode: CaptureMode,
    now: datetime,
) -> OutboxEvent:
    data = {"paymentIntentId": intent_id, "paymentStatus": status.value, "captureMode": capture_mode.value}
    return OutboxEvent(event_id, scope, name, intent_id, now, data)
