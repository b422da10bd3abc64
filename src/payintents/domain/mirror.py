"""A gateway account's intents are mirrors of Dojo's (ADR 0031): created there first, with Dojo's
id, and brought to what Dojo reports (a payment at Dojo's page, a capture, a reversal, a cancel).

Refunds are not followed from Dojo: each goes through this server's two-phase write, which
records it; a refund made at Dojo directly is a difference for the reconciliation report.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from payintents.domain import lifecycle
from payintents.domain.intent import PaymentEvent, PaymentIntent, Scope, Status
from payintents.domain.lifecycle import IntentSpec

# Dojo's statuses the mirror follows by itself (Captured comes with its captures).
FOLLOWED = frozenset({Status.AUTHORIZED, Status.REVERSED, Status.CANCELED})
# Where a mirror's document keeps Dojo's ``paymentLink``, the page its shopper pays on (no
# request body can carry this name: unknown properties are refused).
UPSTREAM_PAYMENT_LINK = "upstreamPaymentLink"


@dataclass(frozen=True, slots=True)
class UpstreamCapture:
    id: str
    amount: int
    tips_amount: int | None


@dataclass(frozen=True, slots=True)
class UpstreamState:
    """What Dojo says of an intent, as far as the mirror follows it."""

    id: str
    status: Status
    captures: Sequence[UpstreamCapture] = ()
    payment_details: Mapping[str, Any] | None = None


def open_mirror(
    spec: IntentSpec, scope: Scope, state: UpstreamState, payment_link: str | None, now: datetime
) -> PaymentIntent:
    """The mirror of an intent Dojo just created with id ``state``'s, as the caller asked for it."""
    intent = lifecycle.open_intent(spec, state.id, scope, now)
    if payment_link is not None:
        intent.document = {**intent.document, UPSTREAM_PAYMENT_LINK: payment_link}
    follow(intent, state, now)
    return intent


def follow(intent: PaymentIntent, state: UpstreamState, now: datetime) -> bool:
    """Bring the mirror up to ``state``; True if anything changed. Only ever forward: a status the
    mirror is past (a refund recorded here) is kept."""
    changed = False
    if state.payment_details and intent.payment_details is None:
        intent.payment_details = dict(state.payment_details)
        intent.authorized_at = now
        intent.events.append(PaymentEvent("Authorized", now))
        changed = True
    known = {capture.id for capture in intent.captures}
    for capture in state.captures:
        if capture.id not in known:
            lifecycle.add_capture(intent, capture.id, capture.amount, capture.tips_amount, now)
            changed = True
    if state.status in FOLLOWED and intent.status is not state.status and _may_become(intent, state.status):
        lifecycle.set_status(intent, state.status, now)
        changed = True
    return changed


def _may_become(intent: PaymentIntent, status: Status) -> bool:
    if status is Status.AUTHORIZED:
        return intent.status is Status.CREATED
    # Reversed or canceled at Dojo: never over refunds recorded here.
    return intent.refunded_amount == 0
