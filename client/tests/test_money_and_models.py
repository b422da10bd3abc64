"""Money in integer minor units with exact decimal conversion, and lenient-but-typed model parsing:
unknown members are ignored (forward compatible), missing documented members are an error."""

from __future__ import annotations

from decimal import Decimal

import pytest

from payintents_client import (
    AmountError,
    Money,
    PaymentIntent,
    RefundCreated,
    ResponseFormatError,
    Subscription,
    format_minor,
    to_minor_units,
)
from payintents_client.request_models import CreatePaymentIntentRequest, CreateRefundRequest

INTENT = {
    "id": "pi_sandbox_RBMHTJ4fIkmSppDILZVCGw",
    "captureMode": "Auto",
    "status": "Captured",
    "amount": {"value": 1000, "currencyCode": "GBP"},
    "totalAmount": {"value": 1000, "currencyCode": "GBP"},
    "refundedAmount": 400,
    "createdAt": "2024-04-07T23:25:44.802258Z",
    "updatedAt": "2022-02-01T13:07:41.8667859Z",
    "reference": "Order 234",
    "clientSessionSecretExpirationDate": "0001-01-01T00:00:00Z",
    "captures": [{"id": "cp_1", "amount": 1000, "status": "Successful", "createdAt": "2024-04-07T23:25:44Z"}],
}


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("10.00", "GBP", 1000),
        ("10", "GBP", 1000),
        ("10.5", "EUR", 1050),
        ("0.01", "gbp", 1),
        ("1234567.89", "GBP", 123456789),
    ],
)
def test_decimal_text_converts_exactly_to_minor_units(text: str, currency: str, minor: int) -> None:
    assert to_minor_units(text, currency) == minor
    assert Money.of(text, currency) == Money(minor, currency.upper())


def test_conversion_is_exact_where_floats_are_not() -> None:
    # 0.29 * 100 == 28.999999999999996 in binary floating point; decimal text must give 29.
    assert to_minor_units("0.29", "GBP") == 29
    assert to_minor_units(Decimal("4.35"), "GBP") == 435


@pytest.mark.parametrize(
    "text", ["10.001", "0.005", "1e3", "-1.00", "+1", "1,000.00", "NaN", "", "10.", ".5", "١٠"]
)
def test_amounts_that_are_not_exact_plain_decimals_are_refused(text: str) -> None:
    with pytest.raises(AmountError):
        to_minor_units(text, "GBP")


def test_more_decimals_than_the_currency_has_names_the_currency() -> None:
    with pytest.raises(AmountError, match="GBP has 2"):
        to_minor_units("10.001", "GBP")


def test_unknown_currency_is_refused_rather_than_guessed() -> None:
    with pytest.raises(AmountError, match="unknown currency"):
        to_minor_units("10.00", "JPY")


def test_money_refuses_floats_and_booleans() -> None:
    with pytest.raises(TypeError):
        Money(10.0, "GBP")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Money(True, "GBP")


def test_money_prints_in_major_units() -> None:
    assert str(Money(1000, "GBP")) == "10.00 GBP"
    assert format_minor(5, "EUR") == "0.05 EUR"


def test_payment_intent_parses_documented_members_and_keeps_unknown_ones_in_raw() -> None:
    data = {**INTENT, "someFutureField": {"x": 1}}
    intent = PaymentIntent.from_wire(data)
    assert intent.refunded == Money(400, "GBP")
    assert intent.amount == Money(1000, "GBP")
    assert intent.updated_at.microsecond == 866785  # .NET's 7 fractional digits
    assert intent.client_session_secret_expiration_date is not None
    assert intent.client_session_secret_expiration_date.year == 1
    assert intent.captures[0].amount == 1000
    assert intent.raw["someFutureField"] == {"x": 1}


def test_a_missing_documented_member_is_an_error_not_a_silent_default() -> None:
    data = {k: v for k, v in INTENT.items() if k != "refundedAmount"}
    with pytest.raises(ResponseFormatError, match="refundedAmount"):
        PaymentIntent.from_wire(data)


def test_an_amount_that_is_not_an_integer_is_an_error() -> None:
    with pytest.raises(ResponseFormatError):
        PaymentIntent.from_wire({**INTENT, "refundedAmount": 4.0})


def test_refund_created_keeps_null_notes_as_none() -> None:
    refund = RefundCreated.from_wire(
        {"paymentIntentId": "pi_1", "refundId": "rfnd_1", "refundReason": None, "notes": None, "message": "m"}
    )
    assert refund.notes is None and refund.refund_reason is None


def test_secret_values_stay_out_of_reprs() -> None:
    subscription = Subscription.from_wire(
        {
            "id": "ws_1",
            "accountId": "acc_1",
            "events": ["payment_intent.created"],
            "url": "https://example.com/hook",
            "secrets": [
                {"id": "sc_1", "value": "TOPSECRET", "createdAt": "2024-01-01T00:00:00Z", "isActive": True}
            ],
            "createdAt": "2024-01-01T00:00:00Z",
            "updatedAt": "2024-01-01T00:00:00Z",
        }
    )
    assert subscription.active_secret is not None
    assert subscription.active_secret.value == "TOPSECRET"
    assert "TOPSECRET" not in repr(subscription)


def test_request_models_render_camel_case_and_omit_unset_fields() -> None:
    body = CreatePaymentIntentRequest(Money(1000, "GBP"), "Order 234", capture_mode="Manual").to_wire()
    assert body == {
        "amount": {"value": 1000, "currencyCode": "GBP"},
        "reference": "Order 234",
        "captureMode": "Manual",
    }
    refund = CreateRefundRequest(1000, "Demo refund", "Duplicate transaction").to_wire()
    assert refund == {"amount": 1000, "refundReason": "Demo refund", "notes": "Duplicate transaction"}
