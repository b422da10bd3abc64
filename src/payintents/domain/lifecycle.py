"""Transitions of a payment intent: pay, capture, reverse, cancel, expire, amend and refund.

Each function checks what the intent's status allows (docs/api.md, "Statuses and what each
operation needs") and either changes the intent or raises the domain error that names the broken rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from payintents.domain.errors import (
    AttemptsExhaustedError,
    InvariantViolationError,
    NotAllowedError,
    NotFoundError,
    RefundTooLargeError,
    RuleBrokenError,
    StateConflictError,
    ValidationError,
)
from payintents.domain.intent import (
    CLIENT_SECRET_LIFETIME,
    DEFAULT_EXPIRE_AFTER,
    MANUAL_AUTHORIZATION_LIFETIME,
    MIN_AUTO_EXPIRE_IN,
    AutoExpireAction,
    Capture,
    CaptureMode,
    PaymentEvent,
    PaymentIntent,
    Scope,
    Status,
    parse_timespan,
)
from payintents.domain.money import Money, add_amounts, check_amount

NOT_FOUND_DETAIL = "The payment intent does not exist."
# Card attempts one intent takes at checkout: each decline and each 3-D Secure challenge adds a
# payment event, so without a bound one intent's history (and every read of it) grows forever.
MAX_CARD_ATTEMPTS = 20


@dataclass(frozen=True, slots=True)
class IntentSpec:
    """What a caller asked for when creating an intent, already shape-checked."""

    amount: Money
    reference: str
    capture_mode: CaptureMode
    tips_amount: Money | None
    extra_amounts: tuple[Money, ...]
    expire_at: datetime | None
    auto_expire_in: str | None
    auto_expire_action: AutoExpireAction | None
    document: dict[str, Any]


def open_intent(spec: IntentSpec, intent_id: str, scope: Scope, now: datetime) -> PaymentIntent:
    """Create a new intent in ``Created`` from a validated spec."""
    check_amount(spec.amount.value, field="amount")
    total = spec.amount
    for extra in (spec.tips_amount, *spec.extra_amounts):
        if extra is not None:
            total = total + extra
    expire_at = spec.expire_at or now + DEFAULT_EXPIRE_AFTER
    if expire_at <= now:
        raise ValidationError({"expireAt": ["The expireAt field must be in the future."]})
    if spec.auto_expire_in is not None:
        lifetime = parse_timespan(spec.auto_expire_in)
        if not MIN_AUTO_EXPIRE_IN < lifetime < MANUAL_AUTHORIZATION_LIFETIME:
            raise ValidationError(
                {"autoExpireIn": ["The autoExpireIn field must be over 30 seconds and under 7 days."]}
            )
    return PaymentIntent(
        id=intent_id,
        scope=scope,
        status=Status.CREATED,
        capture_mode=spec.capture_mode,
        amount=spec.amount,
        tips_amount=spec.tips_amount,
        total_amount=total,
        reference=spec.reference,
        created_at=now,
        updated_at=now,
        expire_at=expire_at,
        document=spec.document,
        auto_expire_in=spec.auto_expire_in,
        auto_expire_action=spec.auto_expire_action,
    )


def ensure_visible(intent: PaymentIntent | None, *, return_canceled: bool = False) -> PaymentIntent:
    """Canceled intents behave as missing unless explicitly asked for (docs/api.md, retrieve)."""
    if intent is None or (intent.status is Status.CANCELED and not return_canceled):
        raise NotFoundError(NOT_FOUND_DETAIL)
    return intent


def cancel(intent: PaymentIntent, now: datetime) -> None:
    if intent.status is not Status.CREATED:
        raise RuleBrokenError(
            f"Only a payment intent in status Created can be canceled; this one is {intent.status}."
        )
    set_status(intent, Status.CANCELED, now)


def card_attempts(intent: PaymentIntent) -> int:
    """Card attempts the intent has recorded: each challenge started and each decline, except the
    decline that ends a challenge (that attempt was counted when it was challenged)."""
    attempts = 0
    previous = None
    for event in intent.events:
        ends_challenge = event.event_type == "Declined" and previous == "AuthChallenged"
        if event.event_type in ("AuthChallenged", "Declined") and not ends_challenge:
            attempts += 1
        previous = event.event_type
    return attempts


def ensure_attempts_left(intent: PaymentIntent) -> None:
    """Refuse another card attempt once the intent has had ``MAX_CARD_ATTEMPTS``."""
    if card_attempts(intent) >= MAX_CARD_ATTEMPTS:
        raise AttemptsExhaustedError(
            f"This payment has been tried with a card {MAX_CARD_ATTEMPTS} times without success, "
            "the most the checkout allows; it takes no more attempts."
        )


def record_challenge(intent: PaymentIntent, card: dict[str, str], now: datetime) -> None:
    _ensure_payable(intent, now)
    intent.pending_challenge = True
    intent.events.append(PaymentEvent("AuthChallenged", now, card=card))
    intent.touch(now)


def record_decline(intent: PaymentIntent, card: dict[str, str], now: datetime) -> None:
    """A declined authorization leaves the intent Created and records the attempt."""
    _ensure_payable(intent, now)
    intent.pending_challenge = False
    intent.events.append(PaymentEvent("Declined", now, card=card))
    intent.touch(now)


def authorize(
    intent: PaymentIntent,
    *,
    transaction_id: str,
    capture_id: str,
    card: dict[str, str],
    now: datetime,
    payment_method_id: str | None = None,
) -> None:
    """A successful card payment: Auto intents are captured in full, Manual ones authorized.
    ``payment_method_id``: the saved card it was paid with, if any."""
    _ensure_payable(intent, now)
    intent.pending_challenge = False
    # The client session secret is single use: a completed payment consumes it.
    intent.client_session_secret = None
    intent.client_session_secret_expires_at = None
    intent.authorized_at = now
    intent.payment_details = {
        "transactionId": transaction_id,
        "transactionDateTime": now,
        "message": "AUTHORISED" if intent.capture_mode is CaptureMode.MANUAL else "DEPOSITED",
        "card": card,
    }
    if payment_method_id is not None:
        intent.payment_details["paymentMethodId"] = payment_method_id
    intent.events.append(PaymentEvent("Authorized", now, transaction_id, card))
    if intent.capture_mode is CaptureMode.AUTO:
        add_capture(intent, capture_id, intent.total_amount.value, None, now)
        return
    lifetime = MANUAL_AUTHORIZATION_LIFETIME
    if intent.auto_expire_in is not None:
        lifetime = parse_timespan(intent.auto_expire_in)
    intent.auto_expire_at = now + lifetime
    set_status(intent, Status.AUTHORIZED, now)


def capture(
    intent: PaymentIntent, capture_id: str, amount: int, tips_amount: int | None, now: datetime
) -> None:
    """Capture part or all of a Manual authorization; several partial captures are allowed."""
    check_amount(amount, field="amount")
    if tips_amount is not None:
        check_amount(tips_amount, field="tipsAmount", allow_zero=True)
    capturable = intent.capture_mode is CaptureMode.MANUAL and (
        intent.status is Status.AUTHORIZED
        or (intent.status is Status.CAPTURED and intent.refunded_amount == 0)
    )
    if not capturable:
        raise StateConflictError(
            f"A capture needs a Manual payment intent that is Authorized (or partly captured and "
            f"not refunded); this one is {intent.capture_mode} and {intent.status}."
        )
    remaining = intent.total_amount.value - intent.captured_amount
    wanted = add_amounts(amount, tips_amount or 0)
    if wanted > remaining:
        raise RuleBrokenError(f"Capture amount {wanted} exceeds the remaining authorized amount {remaining}.")
    add_capture(intent, capture_id, amount, tips_amount, now)


def reverse(intent: PaymentIntent, reversal_id: str, now: datetime) -> None:
    """Reverse in full, inside the windows docs/api.md states (7 days / same UTC day)."""
    _check_reversible(intent, now)
    intent.reversal_id = reversal_id
    _release(intent, now)


def _check_reversible(intent: PaymentIntent, now: datetime) -> None:
    if intent.status is Status.AUTHORIZED and intent.capture_mode is CaptureMode.MANUAL:
        if intent.authorized_at is not None and now - intent.authorized_at <= MANUAL_AUTHORIZATION_LIFETIME:
            return
        raise StateConflictError("The 7-day reversal window after authorization has passed.")
    if (
        intent.status is Status.CAPTURED
        and intent.capture_mode is CaptureMode.AUTO
        and intent.refunded_amount == 0
    ):
        if intent.captured_at is not None and intent.captured_at.date() == now.date():
            return
        raise StateConflictError(
            "An Auto payment can only be reversed on the UTC day it was captured; refund it instead."
        )
    raise StateConflictError(
        f"A {intent.capture_mode} payment intent in status {intent.status} cannot be reversed."
    )


def change_amount(intent: PaymentIntent, amount: Money, lines: dict[str, list[Any]], now: datetime) -> None:
    """Set a custom amount; ``lines`` (itemLines, taxLines) replace the stored ones when given."""
    _ensure_amendable(intent, "customAmountAllowed", "amount")
    check_amount(amount.value, field="amount")
    extra = intent.total_amount.value - intent.amount.value
    if amount.currency is not intent.currency:
        raise ValidationError({"amount": ["The amount must be in the payment intent's currency."]})
    if intent.requested_amount is None:
        intent.requested_amount = intent.amount
    intent.amount = amount
    intent.total_amount = Money(add_amounts(amount.value, extra), amount.currency)
    intent.document = {**intent.document, **lines}
    intent.touch(now)


def change_tips(intent: PaymentIntent, tips: Money, now: datetime) -> None:
    _ensure_amendable(intent, "tipsAllowed", "tips amount")
    check_amount(tips.value, field="tipsAmount", allow_zero=True)
    if tips.currency is not intent.currency:
        raise ValidationError({"tipsAmount": ["The tips must be in the payment intent's currency."]})
    previous = intent.tips_amount.value if intent.tips_amount else 0
    new_total = add_amounts(intent.total_amount.value - previous, tips.value)
    intent.tips_amount = tips
    intent.total_amount = Money(new_total, intent.currency)
    intent.touch(now)


def refresh_client_secret(intent: PaymentIntent, secret: str, now: datetime) -> None:
    if intent.status is not Status.CREATED:
        raise RuleBrokenError(
            f"A client session secret is only issued while the intent is Created; it is {intent.status}."
        )
    intent.client_session_secret = secret
    intent.client_session_secret_expires_at = now + CLIENT_SECRET_LIFETIME
    intent.touch(now)


def expire_if_due(intent: PaymentIntent, now: datetime) -> bool:
    """Apply ``expireAt``, and ``autoExpireIn`` when it releases; return whether anything changed.
    A due auto-capture moves money, so it is not applied here (``auto_capture_due``)."""
    if intent.status is Status.CREATED and now >= intent.expire_at:
        set_status(intent, Status.CANCELED, now)
        return True
    if _auto_expiry_due(intent, now) and intent.auto_expire_action is not AutoExpireAction.CAPTURE:
        _release(intent, now)
        return True
    return False


def auto_capture_due(intent: PaymentIntent, now: datetime) -> int | None:
    """What ``autoExpireIn`` with the Capture action captures now (the rest of the
    authorization, through the processor like any capture), or None when nothing is due."""
    if _auto_expiry_due(intent, now) and intent.auto_expire_action is AutoExpireAction.CAPTURE:
        return intent.total_amount.value - intent.captured_amount
    return None


def _auto_expiry_due(intent: PaymentIntent, now: datetime) -> bool:
    due = intent.auto_expire_at
    return intent.status is Status.AUTHORIZED and due is not None and now >= due


def refund_refusal(intent: PaymentIntent | None, amount: int) -> Exception:
    """Explain why a refund of ``amount`` cannot be applied to ``intent`` (docs/api.md, refunds)."""
    if intent is None or intent.status is Status.CANCELED:
        return NotFoundError(NOT_FOUND_DETAIL)
    if intent.status is Status.REFUNDED:
        return RuleBrokenError("The payment intent has already been fully refunded.")
    if intent.status is not Status.CAPTURED:
        return RuleBrokenError(f"A refund needs a captured payment; this payment intent is {intent.status}.")
    if amount > intent.remaining_refundable:
        return RefundTooLargeError(amount, intent.remaining_refundable)
    return InvariantViolationError("refund refused although the intent allows it")


def apply_refund(intent: PaymentIntent, amount: int, now: datetime) -> None:
    """The refund rule in pure form; the SQL store applies the same rule in one guarded UPDATE."""
    check_amount(amount, field="amount")
    if intent.status is not Status.CAPTURED or amount > intent.remaining_refundable:
        raise refund_refusal(intent, amount)
    intent.refunded_amount += amount
    if intent.refunded_amount == intent.refundable_amount:
        set_status(intent, Status.REFUNDED, now)
    else:
        intent.touch(now)


def check_invariants(intent: PaymentIntent) -> None:
    """The named invariants every stored intent satisfies; a failure is a bug, never input."""
    if not 0 <= intent.refunded_amount <= intent.refundable_amount:
        raise InvariantViolationError(f"REFUND_CAP broken on {intent.id}")
    if intent.refundable_amount != intent.captured_amount:
        raise InvariantViolationError(f"REFUNDABLE_IS_CAPTURED broken on {intent.id}")
    if intent.captured_amount > intent.total_amount.value:
        raise InvariantViolationError(f"CAPTURE_CAP broken on {intent.id}")
    fully_refunded = intent.refundable_amount > 0 and intent.refunded_amount == intent.refundable_amount
    if (intent.status is Status.REFUNDED) != fully_refunded:
        raise InvariantViolationError(f"REFUNDED_STATUS broken on {intent.id}")


def _ensure_payable(intent: PaymentIntent, now: datetime) -> None:
    if intent.status is not Status.CREATED:
        raise StateConflictError(f"The payment intent is {intent.status} and cannot be paid.")
    if now >= intent.expire_at:
        raise StateConflictError("The payment intent has expired.")


def _ensure_amendable(intent: PaymentIntent, flag: str, what: str) -> None:
    payment_config = (intent.document.get("config") or {}).get("payment") or {}
    if payment_config.get(flag) is not True:
        raise NotAllowedError(f"Changing the {what} needs config.payment.{flag} set at creation.")
    if intent.status is not Status.CREATED:
        raise RuleBrokenError(f"The {what} can only change while the intent is Created.")


def add_capture(intent: PaymentIntent, capture_id: str, amount: int, tips: int | None, now: datetime) -> None:
    intent.captures.append(Capture(capture_id, amount, tips, now))
    intent.refundable_amount = intent.captured_amount
    if intent.captured_at is None:
        intent.captured_at = now
    intent.events.append(PaymentEvent("Captured", now))
    if intent.status is not Status.CAPTURED:
        set_status(intent, Status.CAPTURED, now)
    else:
        intent.touch(now)


def _release(intent: PaymentIntent, now: datetime) -> None:
    set_status(intent, Status.REVERSED, now)


def set_status(intent: PaymentIntent, status: Status, now: datetime) -> None:
    intent.status = status
    if status in (Status.REVERSED, Status.CANCELED, Status.REFUNDED):
        intent.events.append(PaymentEvent(status.value, now))
    intent.touch(now)
