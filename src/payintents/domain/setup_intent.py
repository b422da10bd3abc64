"""The setup intent: a shopper saves a card for later merchant-initiated charges, paying nothing.

Created → Authorized (the card was verified at the hosted checkout and saved, 3-D Secure
included) → Completed (a merchant-initiated charge used it). Created or Authorized → Canceled
by the merchant; Created → Expired once ``expireAt`` passes (seen on read). Every transition
takes the time as an argument; nothing here reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from payintents.domain import lifecycle
from payintents.domain.errors import NotFoundError, RuleBrokenError, StateConflictError
from payintents.domain.intent import CLIENT_SECRET_LIFETIME, DEFAULT_EXPIRE_AFTER, PaymentIntent, Scope

NOT_FOUND_DETAIL = "The setup intent does not exist."


class SetupIntentStatus(StrEnum):
    CREATED = "Created"
    AUTHORIZED = "Authorized"
    CANCELED = "Canceled"
    COMPLETED = "Completed"
    EXPIRED = "Expired"
    CARD_EXPIRED = "CardExpired"
    CLOSED = "Closed"


# The statuses in which the saved card may be charged by the merchant.
CHARGEABLE = frozenset({SetupIntentStatus.AUTHORIZED, SetupIntentStatus.COMPLETED})


@dataclass(frozen=True, slots=True)
class SetupEvent:
    """One entry of ``setupEvents``: what happened at the checkout, and when."""

    event_type: str
    at: datetime
    message: str | None = None
    # The card as the processor answered it (masked), and what the event made of it.
    card: dict[str, str] | None = None
    transaction_id: str | None = None
    payment_method_id: str | None = None


@dataclass(slots=True)
class SetupIntent:
    """``document`` is the create request as validated (reference, terms, customer, …), echoed."""

    id: str
    scope: Scope
    status: SetupIntentStatus
    document: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    expire_at: datetime
    client_session_secret: str | None = None
    client_session_secret_expires_at: datetime | None = None
    payment_method_id: str | None = None
    payment_details: dict[str, Any] | None = None
    pending_challenge: bool = False
    # The card waiting on a 3-D Secure challenge, and the processor's token for it (never shown).
    pending_card: dict[str, str] | None = None
    pending_token: str | None = None
    events: list[SetupEvent] = field(default_factory=list)

    @property
    def customer_id(self) -> str | None:
        customer = self.document.get("customer") or {}
        found = customer.get("id")
        return str(found) if found else None


def open_setup_intent(
    setup_intent_id: str,
    scope: Scope,
    document: dict[str, Any],
    expire_at: datetime | None,
    secret: str,
    now: datetime,
) -> SetupIntent:
    """``document``: the request as validated; ``expire_at``: its ``expireAt``, read as a time."""
    expire_at = expire_at or now + DEFAULT_EXPIRE_AFTER
    if expire_at <= now:
        raise RuleBrokenError("The expireAt time must be in the future.")
    intent = SetupIntent(setup_intent_id, scope, SetupIntentStatus.CREATED, document, now, now, expire_at)
    refresh_secret(intent, secret, now)
    return intent


def ensure_found(intent: SetupIntent | None) -> SetupIntent:
    if intent is None:
        raise NotFoundError(NOT_FOUND_DETAIL)
    return intent


def seen_at(intent: SetupIntent, now: datetime) -> SetupIntent:
    """The intent as it stands at ``now``: a Created one past its ``expireAt`` has Expired."""
    if intent.status is SetupIntentStatus.CREATED and now >= intent.expire_at:
        intent.status = SetupIntentStatus.EXPIRED
        intent.pending_challenge = False
        intent.client_session_secret = None
        intent.client_session_secret_expires_at = None
    return intent


def refresh_secret(intent: SetupIntent, secret: str, now: datetime) -> None:
    ensure_created(intent, "refresh its client session secret")
    intent.client_session_secret = secret
    intent.client_session_secret_expires_at = now + CLIENT_SECRET_LIFETIME
    intent.updated_at = now


def cancel(intent: SetupIntent, now: datetime) -> None:
    if intent.status not in (SetupIntentStatus.CREATED, SetupIntentStatus.AUTHORIZED):
        raise RuleBrokenError(
            f"Only a Created or Authorized setup intent can be canceled; this one is {intent.status}."
        )
    intent.status = SetupIntentStatus.CANCELED
    intent.client_session_secret = None
    intent.client_session_secret_expires_at = None
    intent.pending_challenge = False
    intent.updated_at = now


def record_challenge(intent: SetupIntent, card: dict[str, str], token: str | None, now: datetime) -> None:
    ensure_created(intent, "save a card")
    intent.pending_challenge = True
    intent.pending_card = card
    intent.pending_token = token
    intent.events.append(SetupEvent("AuthChallenged", now, card=card))
    intent.updated_at = now


def record_decline(intent: SetupIntent, card: dict[str, str], now: datetime) -> None:
    ensure_created(intent, "save a card")
    intent.pending_challenge = False
    intent.pending_card = None
    intent.pending_token = None
    intent.events.append(SetupEvent("Declined", now, card.get("message", "DECLINED"), card))
    intent.updated_at = now


def authorize(
    intent: SetupIntent, payment_method_id: str, payment_details: dict[str, Any], now: datetime
) -> None:
    """The card was verified and saved: it may now be charged by the merchant."""
    ensure_created(intent, "save a card")
    intent.status = SetupIntentStatus.AUTHORIZED
    intent.payment_method_id = payment_method_id
    intent.payment_details = payment_details
    intent.pending_challenge = False
    intent.pending_card = None
    intent.pending_token = None
    intent.client_session_secret = None
    intent.client_session_secret_expires_at = None
    card = payment_details.get("card")
    transaction_id = payment_details.get("transactionId")
    intent.events.append(SetupEvent("Authorized", now, None, card, transaction_id, payment_method_id))
    intent.updated_at = now


def ensure_chargeable(intent: SetupIntent) -> str:
    """The saved card's payment method id, if a merchant-initiated charge may use it."""
    if intent.status not in CHARGEABLE or intent.payment_method_id is None:
        raise RuleBrokenError(
            f"A charge needs a setup intent with a saved card (Authorized); {intent.id} is {intent.status}."
        )
    return intent.payment_method_id


def charge_intent(intent: PaymentIntent, capture_id: str, details: dict[str, Any], now: datetime) -> None:
    """A payment intent paid by a saved card without the shopper: Auto → Captured, Manual →
    Authorized, as a checkout payment would (raises if the intent cannot be paid)."""
    card = details.get("card")
    lifecycle.authorize(
        intent,
        transaction_id=str(details["transactionId"]),
        capture_id=capture_id,
        card=dict(card) if isinstance(card, dict) else {},
        now=now,
        payment_method_id=details.get("paymentMethodId"),
    )


def complete(intent: SetupIntent, now: datetime) -> None:
    """A merchant-initiated charge used the card."""
    if intent.status is SetupIntentStatus.AUTHORIZED:
        intent.status = SetupIntentStatus.COMPLETED
        intent.updated_at = now


def ensure_created(intent: SetupIntent, what: str) -> None:
    if intent.status is not SetupIntentStatus.CREATED:
        raise StateConflictError(f"Cannot {what}: the setup intent is {intent.status}.")
