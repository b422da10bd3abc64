"""Request bodies read as typed dataclasses (``wire.Body``): every property reaches its attribute
with the right type, names bind case-insensitively, null means absent, the canonical body is
unchanged, and a dataclass out of step with its schema is refused when it is declared."""

from __future__ import annotations

import dataclasses
import typing
from datetime import UTC, datetime
from typing import Any

import pytest

from payintents.domain.errors import ValidationError
from payintents.domain.intent import AutoExpireAction, CaptureMode, Status
from payintents.domain.money import Currency, Money
from payintents.domain.sandbox import FailOperation, FailOutcome
from payintents.web import intent_routes, refund_routes, sandbox_routes, webhook_routes
from payintents.web import request_bodies as bodies
from payintents.web import request_schemas as schemas
from payintents.web.endpoint import ApiCall, ApiRoute
from payintents.web.wire import Body, Field, Obj, boolean, date_time, integer, string, validate

GBP_10 = {"value": 1000, "currencyCode": "GBP"}
LINE = {"name": "Tea", "amountTotal": GBP_10}
TAX_LINE = {"caption": "VAT", "amountTotal": GBP_10}

EVERY_INTENT_PROPERTY: dict[str, Any] = {
    "Amount": {"VALUE": 1000, "currencycode": "GBP"},
    "reference": "Order 1",
    "CaptureMode": "Manual",
    "tipsAmount": {"value": 100, "currencyCode": "GBP"},
    "cashbackAmount": {"value": 200, "currencyCode": "GBP"},
    "serviceChargeAmount": {"value": 300, "currencyCode": "GBP"},
    "description": "two teas",
    "customer": {"emailAddress": "a@example.com"},
    "billingAddress": {"countryCode": "GB"},
    "shippingDetails": {"name": "A"},
    "cardHolderNotPresent": False,
    "transactionSource": "MOTO",
    "config": {"title": "Shop"},
    "requestSecurity": {"device": "phone"},
    "itemLines": [LINE],
    "taxLines": [TAX_LINE],
    "paymentMethods": ["Card", "Wallet"],
    "actionLink": {"url": "https://example.com/a", "label": "Open"},
    "expireAt": "2026-04-01T02:00:00+01:00",
    "autoExpireIn": "00:05:00",
    "AUTOEXPIREACTION": "Capture",
    "metadata": {"k": "v"},
    "setupIntentId": "si_1",
    "orderDetails": {"id": "o1"},
    "generateRemoteToken": True,
    "isNotOnlineCheckout": False,
}


def test_every_payment_intent_property_reaches_its_attribute_typed() -> None:
    body = schemas.CREATE_PAYMENT_INTENT.read(EVERY_INTENT_PROPERTY)
    assert all(getattr(body, f.name) is not None for f in dataclasses.fields(body))
    assert body.amount == bodies.AmountBody(1000, Currency.GBP)
    assert body.amount.as_money() == Money(1000, Currency.GBP)
    assert body.amount.currency_code is Currency.GBP
    assert body.capture_mode is CaptureMode.MANUAL
    assert body.auto_expire_action is AutoExpireAction.CAPTURE
    assert body.expire_at == datetime(2026, 4, 1, 1, 0, tzinfo=UTC)
    assert (body.tips_amount, body.cashback_amount, body.service_charge_amount) == (
        bodies.AmountBody(100, Currency.GBP),
        bodies.AmountBody(200, Currency.GBP),
        bodies.AmountBody(300, Currency.GBP),
    )
    assert body.item_lines == (LINE,)
    assert body.payment_methods == ("Card", "Wallet")
    assert body.transaction_source == "MOTO"
    assert body.customer == {"emailAddress": "a@example.com"}
    assert body.metadata == {"k": "v"}
    assert (body.reference, body.auto_expire_in, body.card_holder_not_present) == (
        "Order 1",
        "00:05:00",
        False,
    )


def test_nulls_and_absent_properties_read_as_none() -> None:
    optional = [
        name for name in schemas.CREATE_PAYMENT_INTENT.shape.fields if name not in ("amount", "reference")
    ]
    sent_null = schemas.CREATE_PAYMENT_INTENT.read(
        {"amount": GBP_10, "reference": "r", **dict.fromkeys(optional[::2])}
    )
    left_out = schemas.CREATE_PAYMENT_INTENT.read({"amount": GBP_10, "reference": "r"})
    assert sent_null == left_out
    assert all(
        getattr(left_out, f.name) is None
        for f in dataclasses.fields(left_out)
        if f.name not in ("amount", "reference")
    )


def test_a_refund_body_binds_names_case_insensitively() -> None:
    sent = {"AMOUNT": 400, "refundreason": "damaged", "Notes": None, "PreviousTransactionId": "t1"}
    assert schemas.CREATE_REFUND.read(sent) == bodies.CreateRefundBody(
        amount=400, refund_reason="damaged", notes=None, previous_transaction_id="t1"
    )


def test_the_canonical_document_is_what_validate_returns() -> None:
    document, body = schemas.CREATE_PAYMENT_INTENT.read_with_document(EVERY_INTENT_PROPERTY)
    assert document == validate(schemas.CREATE_PAYMENT_INTENT.shape, EVERY_INTENT_PROPERTY)
    assert document["expireAt"] == "2026-04-01T02:00:00+01:00"  # stored as sent, not as the datetime
    assert body == schemas.CREATE_PAYMENT_INTENT.read(EVERY_INTENT_PROPERTY)


def test_a_search_reads_statuses_dates_and_its_cursor() -> None:
    body = schemas.SEARCH.read(
        {
            "statuses": ["Captured", "Refunded"],
            "startDate": "2026-01-01T00:00:00Z",
            "endDate": None,
            "Cursor": {"Limit": 10, "after": "c1"},
        }
    )
    assert body.statuses == (Status.CAPTURED, Status.REFUNDED)
    assert body.start_date == datetime(2026, 1, 1, tzinfo=UTC)
    assert body.end_date is None
    assert body.cursor == bodies.SearchCursorBody(limit=10, before=None, after="c1")


def test_the_other_bodies_read_typed() -> None:
    assert schemas.CREATE_CAPTURE.read({"amount": 5, "TipsAmount": 1}) == bodies.CreateCaptureBody(5, 1)
    assert schemas.SET_AMOUNT.read({"amount": GBP_10, "taxLines": [TAX_LINE]}) == bodies.SetAmountBody(
        bodies.AmountBody(1000, Currency.GBP), None, (TAX_LINE,)
    )
    assert schemas.SET_TIPS.read({"tipsAmount": {"value": 0, "currencyCode": "EUR"}}).tips_amount == (
        bodies.AmountBody(0, Currency.EUR)
    )
    fail = schemas.FAIL_NEXT.read({"operation": "refund", "outcome": "slow", "delayMs": 5})
    assert fail == bodies.FailNextBody(FailOperation.REFUND, FailOutcome.SLOW, 5)
    clock = schemas.ADVANCE_CLOCK.read({"to": "2030-01-01T00:00:00Z"})
    assert clock == bodies.AdvanceClockBody(seconds=None, to=datetime(2030, 1, 1, tzinfo=UTC))
    subscribe = schemas.SUBSCRIBE.read({"events": ["payment_status_change"], "url": "https://example.com/h"})
    assert subscribe == bodies.SubscribeBody(("payment_status_change",), "https://example.com/h", None, None)
    assert schemas.UPDATE_SUBSCRIPTION.read({}) == bodies.UpdateSubscriptionBody(None, None, None)
    card = {"cardNumber": "4111 1111 1111 1111", "expiryDate": "12/30", "cvv": "123"}
    assert schemas.PAY.read(card) == bodies.PayBody("4111 1111 1111 1111", "12/30", "123", None)
    assert schemas.CHALLENGE.read({"Outcome": "pass"}).passed


def test_reading_an_invalid_body_reports_every_problem() -> None:
    with pytest.raises(ValidationError) as raised:
        schemas.FAIL_NEXT.read({"operation": "cancel", "Outcome": None})
    assert set(raised.value.errors) == {"operation", "Outcome"}


def test_bodies_are_frozen() -> None:
    body = schemas.CREATE_REFUND.read({"amount": 1})
    with pytest.raises(dataclasses.FrozenInstanceError):
        body.amount = 2  # type: ignore[misc]


@dataclasses.dataclass(frozen=True)
class _Flag:
    on: bool | None


@dataclasses.dataclass(frozen=True)
class _Event:
    at: datetime | None
    flag: _Flag | None


@pytest.mark.parametrize(
    ("shape", "kind"),
    [
        (Obj({"on": Field(boolean), "off": Field(boolean)}), _Flag),  # a property it does not read
        (Obj({}), _Flag),  # an attribute with no property
        (Obj({"at": Field(date_time), "flag": Field(integer())}), _Event),  # an object that is not one
        (Obj({"at": Field(date_time), "flag": Field(Obj({"of": Field(string())}))}), _Event),  # nested names
        (Obj({"amount": Field(integer())}), dict),  # not a dataclass
    ],
)
def test_a_dataclass_out_of_step_with_its_schema_is_refused_when_declared(shape: Obj, kind: Any) -> None:
    with pytest.raises(TypeError):
        Body(shape, kind)


def test_every_operation_handler_reads_the_dataclass_of_its_schema() -> None:
    """The route tables pass operations as Operation[Any], so mypy cannot pair a handler with its
    schema there; this does, for every API route."""
    modules = (intent_routes, refund_routes, sandbox_routes, webhook_routes)
    operations = [
        op
        for m in modules
        for route in m.ROUTES
        if isinstance(route, ApiRoute)
        for op in route.operations.values()
    ]
    assert len(operations) > 20
    for op in operations:
        call_type = typing.get_type_hints(op.handler)["call"]
        assert call_type is ApiCall or typing.get_origin(call_type) is ApiCall
        # A bare ApiCall is ApiCall[None]: the TypeVar's default.
        body_type = typing.get_args(call_type)[0] if typing.get_args(call_type) else type(None)
        expected = type(None) if op.schema is None else op.schema.kind
        assert body_type is expected, op.handler.__name__
