"""The payment-intent state machine in ``payintents.domain.lifecycle``: every transition, every
refusal, the refund rule in pure form and the named invariants ``check_invariants`` enforces."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from payintents.domain import lifecycle
from payintents.domain.errors import (
    InvalidAmountError,
    InvariantViolationError,
    NotFoundError,
    RuleBrokenError,
    StateConflictError,
    ValidationError,
)
from payintents.domain.intent import (
    AutoExpireAction,
    Capture,
    CaptureMode,
    Environment,
    PaymentIntent,
    Scope,
    Status,
)
from payintents.domain.lifecycle import IntentSpec
from payintents.domain.money import Currency, Money

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
SCOPE = Scope("acc_1", Environment.SANDBOX)
CARD = {"cardNumber": "520000******1005", "expiryDate": "12/29"}


def gbp(value: int) -> Money:
    return Money(value, Currency.GBP)


def spec(
    amount: int = 1000,
    *,
    mode: CaptureMode = CaptureMode.AUTO,
    tips: int | None = None,
    extras: tuple[int, ...] = (),
    expire_at: datetime | None = None,
    auto_expire_in: str | None = None,
    action: AutoExpireAction | None = None,
) -> IntentSpec:
    return IntentSpec(
        amount=gbp(amount),
        reference="Order 234",
        capture_mode=mode,
        tips_amount=None if tips is None else gbp(tips),
        extra_amounts=tuple(gbp(e) for e in extras),
        expire_at=expire_at,
        auto_expire_in=auto_expire_in,
        auto_expire_action=action,
        document={},
    )


def opened(amount: int = 1000, **kwargs: object) -> PaymentIntent:
    return lifecycle.open_intent(spec(amount, **kwargs), "pi_1", SCOPE, NOW)  # type: ignore[arg-type]


def paid(amount: int = 1000, *, at: datetime = NOW, **kwargs: object) -> PaymentIntent:
    intent = opened(amount, **kwargs)
    lifecycle.authorize(intent, transaction_id="tx", capture_id="cp_1", card=CARD, now=at)
    return intent


def manual(amount: int = 1000, **kwargs: object) -> PaymentIntent:
    return paid(amount, mode=CaptureMode.MANUAL, **kwargs)


# --- opening -------------------------------------------------------------------------------------


def test_open_intent_defaults() -> None:
    intent = opened(1000)
    assert intent.status is Status.CREATED
    assert intent.expire_at == NOW + timedelta(days=30)
    assert intent.created_at == intent.updated_at == NOW
    assert intent.total_amount == gbp(1000)
    assert intent.refundable_amount == intent.refunded_amount == 0
    assert intent.captures == [] and intent.events == []
    lifecycle.check_invariants(intent)


def test_open_intent_total_is_amount_plus_tips_plus_extras() -> None:
    assert opened(1000, tips=150, extras=(20, 30)).total_amount == gbp(1200)


def test_open_intent_refuses_a_past_expiry_and_a_currency_mix() -> None:
    with pytest.raises(ValidationError) as raised:
        opened(expire_at=NOW)
    assert "expireAt" in raised.value.errors
    mixed = dataclasses.replace(spec(), tips_amount=Money(1, Currency.EUR))
    with pytest.raises(ValidationError):
        lifecycle.open_intent(mixed, "pi_1", SCOPE, NOW)


@pytest.mark.parametrize(
    "span", ["00:00:30", "7.00:00:00", "00:00:10", "8.00:00:00", "99999999.23:59:59", "9999999999.00:00:00"]
)
def test_open_intent_refuses_auto_expire_outside_30s_to_7_days(span: str) -> None:
    with pytest.raises(ValidationError) as raised:
        opened(mode=CaptureMode.MANUAL, auto_expire_in=span)
    assert "autoExpireIn" in raised.value.errors


def test_ensure_visible_hides_missing_and_canceled() -> None:
    with pytest.raises(NotFoundError):
        lifecycle.ensure_visible(None)
    intent = opened()
    lifecycle.cancel(intent, NOW)
    with pytest.raises(NotFoundError):
        lifecycle.ensure_visible(intent)
    assert lifecycle.ensure_visible(intent, return_canceled=True) is intent


# --- cancel, pay ---------------------------------------------------------------------------------


def test_cancel_only_from_created() -> None:
    intent = opened()
    lifecycle.cancel(intent, NOW)
    assert intent.status is Status.CANCELED
    assert intent.events[-1].event_type == "Canceled"
    for other in (paid(), manual()):
        with pytest.raises(RuleBrokenError, match=other.status.value):
            lifecycle.cancel(other, NOW)


def test_authorize_auto_captures_the_total_once() -> None:
    intent = paid(1000, tips=100)
    assert intent.status is Status.CAPTURED
    assert [(c.id, c.amount, c.tips_amount) for c in intent.captures] == [("cp_1", 1100, None)]
    assert intent.refundable_amount == 1100
    assert intent.captured_at == intent.authorized_at == NOW
    assert intent.payment_details is not None and intent.payment_details["message"] == "DEPOSITED"
    assert [e.event_type for e in intent.events] == ["Authorized", "Captured"]
    lifecycle.check_invariants(intent)


def test_authorize_manual_authorizes_with_auto_expiry() -> None:
    intent = manual()
    assert intent.status is Status.AUTHORIZED
    assert intent.captures == [] and intent.refundable_amount == 0
    assert intent.auto_expire_at == NOW + timedelta(days=7)
    assert intent.payment_details is not None and intent.payment_details["message"] == "AUTHORISED"
    assert manual(auto_expire_in="01:00:00").auto_expire_at == NOW + timedelta(hours=1)


def test_pay_refused_unless_created_and_unexpired() -> None:
    with pytest.raises(StateConflictError):
        lifecycle.authorize(paid(), transaction_id="t", capture_id="c", card=CARD, now=NOW)
    late = NOW + timedelta(days=30)
    with pytest.raises(StateConflictError, match="expired"):
        lifecycle.authorize(opened(), transaction_id="t", capture_id="c", card=CARD, now=late)


def test_decline_keeps_created_and_challenge_marks_pending() -> None:
    intent = opened()
    lifecycle.record_challenge(intent, CARD, NOW)
    assert intent.pending_challenge and intent.status is Status.CREATED
    lifecycle.record_decline(intent, CARD, NOW)
    assert not intent.pending_challenge and intent.status is Status.CREATED
    assert [e.event_type for e in intent.events] == ["AuthChallenged", "Declined"]


# --- capture -------------------------------------------------------------------------------------


def test_manual_partial_captures_with_tips_up_to_the_total() -> None:
    intent = manual(1000, tips=100)
    lifecycle.capture(intent, "cp_a", 500, 50, NOW)
    assert intent.status is Status.CAPTURED and intent.refundable_amount == 550
    lifecycle.capture(intent, "cp_b", 550, None, NOW)
    assert intent.refundable_amount == intent.captured_amount == 1100
    lifecycle.check_invariants(intent)
    with pytest.raises(RuleBrokenError, match="exceeds"):
        lifecycle.capture(intent, "cp_c", 1, None, NOW)


def test_capture_exceeding_the_authorization_is_refused() -> None:
    intent = manual(1000)
    with pytest.raises(RuleBrokenError, match="1001 exceeds the remaining authorized amount 1000"):
        lifecycle.capture(intent, "cp_a", 1000, 1, NOW)
    assert intent.captures == [] and intent.status is Status.AUTHORIZED


def test_capture_refused_on_auto_created_or_refunded_intents() -> None:
    with pytest.raises(StateConflictError):
        lifecycle.capture(paid(), "cp", 1, None, NOW)
    with pytest.raises(StateConflictError):
        lifecycle.capture(opened(mode=CaptureMode.MANUAL), "cp", 1, None, NOW)
    refunded = manual(1000)
    lifecycle.capture(refunded, "cp_a", 500, None, NOW)
    lifecycle.apply_refund(refunded, 100, NOW)
    with pytest.raises(StateConflictError):
        lifecycle.capture(refunded, "cp_b", 100, None, NOW)


def test_capture_checks_amounts() -> None:
    with pytest.raises(InvalidAmountError):
        lifecycle.capture(manual(), "cp", 0, None, NOW)
    with pytest.raises(InvalidAmountError):
        lifecycle.capture(manual(), "cp", 1, -1, NOW)


# --- reverse -------------------------------------------------------------------------------------


def test_reverse_manual_within_seven_days_only() -> None:
    intent = manual()
    lifecycle.reverse(intent, "rvs_1", NOW + timedelta(days=7))
    assert intent.status is Status.REVERSED and intent.reversal_id == "rvs_1"
    assert intent.events[-1].event_type == "Reversed"
    with pytest.raises(StateConflictError, match="7-day"):
        lifecycle.reverse(manual(), "rvs_2", NOW + timedelta(days=7, seconds=1))


def test_reverse_auto_only_on_the_capture_utc_day() -> None:
    captured_at = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
    intent = paid(at=captured_at)
    lifecycle.reverse(intent, "rvs_1", datetime(2026, 3, 2, 23, 59, 59, tzinfo=UTC))
    assert intent.status is Status.REVERSED
    with pytest.raises(StateConflictError, match="UTC day"):
        lifecycle.reverse(paid(at=captured_at), "rvs_2", datetime(2026, 3, 3, 0, 0, tzinfo=UTC))


def test_reverse_refused_after_a_refund_or_from_other_states() -> None:
    intent = paid()
    lifecycle.apply_refund(intent, 1, NOW)
    with pytest.raises(StateConflictError):
        lifecycle.reverse(intent, "rvs", NOW)
    partly = manual()
    lifecycle.capture(partly, "cp_a", 10, None, NOW)
    for other in (opened(), partly):
        with pytest.raises(StateConflictError, match="cannot be reversed"):
            lifecycle.reverse(other, "rvs", NOW)


# --- expiry --------------------------------------------------------------------------------------


def test_expire_if_due_cancels_a_created_intent_at_expire_at() -> None:
    intent = opened()
    assert not lifecycle.expire_if_due(intent, NOW + timedelta(days=30) - timedelta(seconds=1))
    assert lifecycle.expire_if_due(intent, NOW + timedelta(days=30))
    assert intent.status is Status.CANCELED


def test_expire_if_due_releases_a_manual_authorization_by_default() -> None:
    intent = manual()
    assert not lifecycle.expire_if_due(intent, NOW + timedelta(days=6))
    assert lifecycle.expire_if_due(intent, NOW + timedelta(days=7))
    assert intent.status is Status.REVERSED and intent.captures == []


def test_a_due_auto_capture_is_left_to_the_processor_and_names_the_rest_of_the_authorization() -> None:
    intent = manual(1000, auto_expire_in="01:00:00", action=AutoExpireAction.CAPTURE)
    lifecycle.capture(intent, "cp_a", 300, None, NOW)
    # Once partly captured the intent is Captured, so auto-expiry no longer applies.
    assert lifecycle.auto_capture_due(intent, NOW + timedelta(hours=2)) is None
    whole = manual(1000, auto_expire_in="01:00:00", action=AutoExpireAction.CAPTURE)
    assert lifecycle.auto_capture_due(whole, NOW + timedelta(minutes=59)) is None
    assert lifecycle.auto_capture_due(whole, NOW + timedelta(hours=1)) == 1000
    assert not lifecycle.expire_if_due(whole, NOW + timedelta(hours=1))  # not applied in place
    assert whole.status is Status.AUTHORIZED
    assert lifecycle.auto_capture_due(manual(), NOW + timedelta(days=7)) is None  # it releases


def test_expire_if_due_leaves_final_states_alone() -> None:
    assert not lifecycle.expire_if_due(paid(), NOW + timedelta(days=365))
    assert lifecycle.auto_capture_due(paid(), NOW + timedelta(days=365)) is None


# --- refunds -------------------------------------------------------------------------------------


def test_refund_refusal_explains_each_rule() -> None:
    assert isinstance(lifecycle.refund_refusal(None, 1), NotFoundError)
    canceled = opened()
    lifecycle.cancel(canceled, NOW)
    assert isinstance(lifecycle.refund_refusal(canceled, 1), NotFoundError)
    refunded = paid(1000)
    lifecycle.apply_refund(refunded, 1000, NOW)
    refusal = lifecycle.refund_refusal(refunded, 1)
    assert isinstance(refusal, RuleBrokenError) and "already been fully refunded" in refusal.detail
    for not_captured in (opened(), manual()):
        refusal = lifecycle.refund_refusal(not_captured, 1)
        assert isinstance(refusal, RuleBrokenError) and not_captured.status.value in refusal.detail
    partly = paid(1000)
    lifecycle.apply_refund(partly, 600, NOW)
    refusal = lifecycle.refund_refusal(partly, 401)
    assert isinstance(refusal, RuleBrokenError) and "remaining refundable amount 400" in refusal.detail


def test_refund_refusal_of_an_allowed_refund_is_an_invariant_violation() -> None:
    assert isinstance(lifecycle.refund_refusal(paid(1000), 1), InvariantViolationError)


def test_apply_refund_keeps_captured_until_the_total_is_reached() -> None:
    intent = paid(1000)
    lifecycle.apply_refund(intent, 400, NOW)
    assert intent.status is Status.CAPTURED and intent.refunded_amount == 400
    lifecycle.apply_refund(intent, 600, NOW + timedelta(minutes=1))
    assert intent.status is Status.REFUNDED and intent.refunded_amount == 1000
    assert intent.events[-1].event_type == "Refunded"
    assert intent.updated_at == NOW + timedelta(minutes=1)
    lifecycle.check_invariants(intent)


def test_apply_refund_refuses_and_changes_nothing() -> None:
    intent = paid(1000)
    before = dataclasses.replace(intent, events=list(intent.events), captures=list(intent.captures))
    with pytest.raises(RuleBrokenError):
        lifecycle.apply_refund(intent, 1001, NOW)
    with pytest.raises(InvalidAmountError):
        lifecycle.apply_refund(intent, 0, NOW)
    with pytest.raises(RuleBrokenError):
        lifecycle.apply_refund(manual(), 1, NOW)
    assert intent == before


def test_manual_refundable_total_is_the_sum_of_captures() -> None:
    intent = manual(1000, tips=100)
    lifecycle.capture(intent, "cp_a", 300, 20, NOW)
    with pytest.raises(RuleBrokenError, match="320"):
        lifecycle.apply_refund(intent, 321, NOW)
    lifecycle.apply_refund(intent, 320, NOW)
    assert intent.status is Status.REFUNDED


# --- invariants ----------------------------------------------------------------------------------


def _broken(**changes: object) -> PaymentIntent:
    return dataclasses.replace(paid(1000), **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "name"),
    [
        ({"refunded_amount": 1001}, "REFUND_CAP"),
        ({"refunded_amount": -1}, "REFUND_CAP"),
        ({"refundable_amount": 900}, "REFUNDABLE_IS_CAPTURED"),
        ({"refunded_amount": 1000}, "REFUNDED_STATUS"),
        ({"status": Status.REFUNDED}, "REFUNDED_STATUS"),
    ],
)
def test_check_invariants_names_the_broken_invariant(changes: dict[str, object], name: str) -> None:
    with pytest.raises(InvariantViolationError, match=name):
        lifecycle.check_invariants(_broken(**changes))


def test_check_invariants_capture_cap() -> None:
    over = _broken(captures=[Capture("cp_1", 1000, None, NOW), Capture("cp_2", 1, None, NOW)])
    over.refundable_amount = 1001
    with pytest.raises(InvariantViolationError, match="CAPTURE_CAP"):
        lifecycle.check_invariants(over)


def test_check_invariants_refunded_status_needs_something_refundable() -> None:
    with pytest.raises(InvariantViolationError, match="REFUNDED_STATUS"):
        lifecycle.check_invariants(dataclasses.replace(opened(), status=Status.REFUNDED))
