"""Typed answers of the API, as frozen dataclasses.

Field names are the wire names in snake_case (``refundedAmount`` → ``refunded_amount``). A field
without a default is one the API always sends. Parsing ignores members it does not know (a newer
server stays readable) and keeps the whole answer in ``raw`` for them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from payintents_client._parse import (
    JsonObject,
    ResponseFormatError,
    as_object,
    opt_bool,
    opt_datetime,
    opt_int,
    opt_object,
    opt_str,
    parsed_list,
    req_datetime,
    req_int,
    req_str,
    str_list,
)
from payintents_client.money import Money, format_minor

T = TypeVar("T")

__all__ = [
    "Capture",
    "CaptureDetails",
    "Delivery",
    "DeliveryAttempt",
    "Money",
    "PaymentEvent",
    "PaymentIntent",
    "PaymentIntentPage",
    "Refund",
    "RefundCreated",
    "RefundListItem",
    "RetryScheduled",
    "Reversal",
    "Subscription",
    "SubscriptionSecret",
    "SubscriptionSecrets",
    "WebhookEventGroup",
]


def _raw() -> Any:
    """The full JSON answer; not a wire member of its own."""
    return field(default_factory=dict, repr=False, compare=False, metadata={"wire": False})


def _money(data: JsonObject, name: str) -> Money:
    return Money.from_wire(data.get(name))


def _opt_money(data: JsonObject, name: str) -> Money | None:
    return None if data.get(name) is None else Money.from_wire(data[name])


def _objects(data: JsonObject, name: str) -> tuple[Mapping[str, Any], ...]:
    return parsed_list(data, name, lambda item: item)


@dataclass(frozen=True, slots=True)
class CaptureDetails:
    """One capture as listed in ``PaymentIntent.captures``."""

    id: str
    amount: int
    status: str
    created_at: datetime
    tips_amount: int | None = None
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def from_wire(cls, data: JsonObject) -> CaptureDetails:
        return cls(
            id=req_str(data, "id"),
            amount=req_int(data, "amount"),
            status=req_str(data, "status"),
            created_at=req_datetime(data, "createdAt"),
            tips_amount=opt_int(data, "tipsAmount"),
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class PaymentEvent:
    """An entry of ``PaymentIntent.paymentEvents`` (Authorized, Declined, Captured, …)."""

    event_type: str
    transaction_date_time: datetime
    transaction_id: str | None = None
    card_number: str | None = None
    expiry_date: str | None = None
    card_type: str | None = None
    cardholder_name: str | None = None
    message: str | None = None
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def from_wire(cls, data: JsonObject) -> PaymentEvent:
        return cls(
            event_type=req_str(data, "eventType"),
            transaction_date_time=req_datetime(data, "transactionDateTime"),
            transaction_id=opt_str(data, "transactionId"),
            card_number=opt_str(data, "cardNumber"),
            expiry_date=opt_str(data, "expiryDate"),
            card_type=opt_str(data, "cardType"),
            cardholder_name=opt_str(data, "cardholderName"),
            message=opt_str(data, "message"),
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class PaymentIntent:
    """A payment intent. ``refunded_amount`` is in minor units of ``amount``'s currency."""

    id: str
    capture_mode: str
    status: str
    amount: Money
    total_amount: Money
    refunded_amount: int
    created_at: datetime
    updated_at: datetime
    reference: str
    card_holder_not_present: bool | None = None
    client_session_secret: str | None = None
    client_session_secret_expiration_date: datetime | None = None
    payment_details: Mapping[str, Any] | None = None
    payment_methods: tuple[str, ...] = ()
    tips_amount: Money | None = None
    requested_amount: Money | None = None
    cashback_amount: Money | None = None
    service_charge_amount: Money | None = None
    description: str | None = None
    item_lines: tuple[Mapping[str, Any], ...] = ()
    tax_lines: tuple[Mapping[str, Any], ...] = ()
    customer: Mapping[str, Any] | None = None
    request_security: Mapping[str, Any] | None = None
    billing_address: Mapping[str, Any] | None = None
    shipping_details: Mapping[str, Any] | None = None
    action_link: Mapping[str, Any] | None = None
    metadata: Mapping[str, str] | None = None
    order_details: Mapping[str, Any] | None = None
    setup_intent_id: str | None = None
    merchant_config: Mapping[str, Any] | None = None
    config: Mapping[str, Any] | None = None
    payment_source: str | None = None
    auto_expire_action: str | None = None
    expire_at: datetime | None = None
    auto_expire_in: str | None = None
    payment_events: tuple[PaymentEvent, ...] = ()
    payment_link: str | None = None
    terminal_session_history: tuple[Mapping[str, Any], ...] = ()
    captures: tuple[CaptureDetails, ...] = ()
    raw: Mapping[str, Any] = _raw()

    @property
    def currency_code(self) -> str:
        return self.amount.currency_code

    @property
    def refunded(self) -> Money:
        """``refunded_amount`` as Money in the intent's currency."""
        return Money(self.refunded_amount, self.currency_code)

    def describe_refunded(self) -> str:
        return format_minor(self.refunded_amount, self.currency_code)

    @classmethod
    def from_wire(cls, data: JsonObject) -> PaymentIntent:
        return cls(
            id=req_str(data, "id"),
            capture_mode=req_str(data, "captureMode"),
            status=req_str(data, "status"),
            amount=_money(data, "amount"),
            total_amount=_money(data, "totalAmount"),
            refunded_amount=req_int(data, "refundedAmount"),
            created_at=req_datetime(data, "createdAt"),
            updated_at=req_datetime(data, "updatedAt"),
            reference=req_str(data, "reference"),
            card_holder_not_present=opt_bool(data, "cardHolderNotPresent"),
            client_session_secret=opt_str(data, "clientSessionSecret"),
            client_session_secret_expiration_date=opt_datetime(data, "clientSessionSecretExpirationDate"),
            payment_details=opt_object(data, "paymentDetails"),
            payment_methods=str_list(data, "paymentMethods"),
            tips_amount=_opt_money(data, "tipsAmount"),
            requested_amount=_opt_money(data, "requestedAmount"),
            cashback_amount=_opt_money(data, "cashbackAmount"),
            service_charge_amount=_opt_money(data, "serviceChargeAmount"),
            description=opt_str(data, "description"),
            item_lines=_objects(data, "itemLines"),
            tax_lines=_objects(data, "taxLines"),
            customer=opt_object(data, "customer"),
            request_security=opt_object(data, "requestSecurity"),
            billing_address=opt_object(data, "billingAddress"),
            shipping_details=opt_object(data, "shippingDetails"),
            action_link=opt_object(data, "actionLink"),
            metadata=opt_object(data, "metadata"),
            order_details=opt_object(data, "orderDetails"),
            setup_intent_id=opt_str(data, "setupIntentId"),
            merchant_config=opt_object(data, "merchantConfig"),
            config=opt_object(data, "config"),
            payment_source=opt_str(data, "paymentSource"),
            auto_expire_action=opt_str(data, "autoExpireAction"),
            expire_at=opt_datetime(data, "expireAt"),
            auto_expire_in=opt_str(data, "autoExpireIn"),
            payment_events=parsed_list(data, "paymentEvents", PaymentEvent.from_wire),
            payment_link=opt_str(data, "paymentLink"),
            terminal_session_history=_objects(data, "terminalSessionHistory"),
            captures=parsed_list(data, "captures", CaptureDetails.from_wire),
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class PaymentIntentPage:
    """One page of a search, newest first; ``after`` continues towards older intents."""

    data: tuple[PaymentIntent, ...]
    before: str | None = None
    after: str | None = None
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def from_wire(cls, data: JsonObject) -> PaymentIntentPage:
        return cls(
            data=parsed_list(data, "data", PaymentIntent.from_wire),
            before=opt_str(data, "before"),
            after=opt_str(data, "after"),
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class Capture:
    """The answer to a capture."""

    message: str
    capture_id: str
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def from_wire(cls, data: JsonObject) -> Capture:
        return cls(req_str(data, "message"), req_str(data, "captureId"), raw=data)


@dataclass(frozen=True, slots=True)
class Reversal:
    """The answer to a reversal."""

    message: str
    reversal_id: str
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def from_wire(cls, data: JsonObject) -> Reversal:
        return cls(req_str(data, "message"), req_str(data, "reversalId"), raw=data)


@dataclass(frozen=True, slots=True)
class Refund:
    """A refund as ``GET /payment-intents/refunds/{refundId}`` shows it (Dojo exposes no amount)."""

    payment_intent_id: str
    refund_id: str
    refund_reason: str | None
    notes: str | None
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def from_wire(cls, data: JsonObject) -> Refund:
        return cls(
            payment_intent_id=req_str(data, "paymentIntentId"),
            refund_id=req_str(data, "refundId"),
            refund_reason=opt_str(data, "refundReason"),
            notes=opt_str(data, "notes"),
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class RefundCreated:
    """The answer to creating a refund: the refund plus a ``message`` such as "refund for Order 234"."""

    payment_intent_id: str
    refund_id: str
    refund_reason: str | None
    notes: str | None
    message: str
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def from_wire(cls, data: JsonObject) -> RefundCreated:
        return cls(
            payment_intent_id=req_str(data, "paymentIntentId"),
            refund_id=req_str(data, "refundId"),
            refund_reason=opt_str(data, "refundReason"),
            notes=opt_str(data, "notes"),
            message=req_str(data, "message"),
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class RefundListItem:
    """A row of ``GET /payment-intents/{id}/refunds`` (a payintents extension: it has the amount)."""

    refund_id: str
    amount: int
    refund_reason: str | None
    notes: str | None
    created_at: datetime
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def from_wire(cls, data: JsonObject) -> RefundListItem:
        return cls(
            refund_id=req_str(data, "refundId"),
            amount=req_int(data, "amount"),
            refund_reason=opt_str(data, "refundReason"),
            notes=opt_str(data, "notes"),
            created_at=req_datetime(data, "createdAt"),
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class WebhookEventGroup:
    """An entry of ``GET /webhooks/events``: a model and the events one can subscribe to for it."""

    model: str
    events: tuple[str, ...]
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def from_wire(cls, data: JsonObject) -> WebhookEventGroup:
        return cls(req_str(data, "model"), str_list(data, "events"), raw=data)


@dataclass(frozen=True, slots=True)
class SubscriptionSecret:
    """A signing secret; exactly one of a subscription's secrets is active."""

    id: str
    value: str = field(repr=False)  # a signing secret: kept out of logs
    created_at: datetime
    is_active: bool
    last_used_at: datetime | None = None
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def from_wire(cls, data: JsonObject) -> SubscriptionSecret:
        return cls(
            id=req_str(data, "id"),
            value=req_str(data, "value"),
            created_at=req_datetime(data, "createdAt"),
            is_active=bool(data.get("isActive")),
            last_used_at=opt_datetime(data, "lastUsedAt"),
            raw=data,
        )


def _active(secrets: tuple[SubscriptionSecret, ...]) -> SubscriptionSecret | None:
    return next((s for s in secrets if s.is_active), None)


@dataclass(frozen=True, slots=True)
class Subscription:
    """A webhook subscription; ``disabled_at`` is set when a receiver answered 410."""

    id: str
    account_id: str
    events: tuple[str, ...]
    url: str
    secrets: tuple[SubscriptionSecret, ...]
    created_at: datetime
    updated_at: datetime
    description: str | None = None
    disabled_at: datetime | None = None
    listener: bool = False  # payintents extension: a ``webhooks listen`` session's subscription
    expires_at: datetime | None = None  # payintents extension: when an unrenewed listener goes away
    raw: Mapping[str, Any] = _raw()

    @property
    def active_secret(self) -> SubscriptionSecret | None:
        return _active(self.secrets)

    @classmethod
    def from_wire(cls, data: JsonObject) -> Subscription:
        return cls(
            id=req_str(data, "id"),
            account_id=req_str(data, "accountId"),
            events=str_list(data, "events"),
            url=req_str(data, "url"),
            secrets=parsed_list(data, "secrets", SubscriptionSecret.from_wire),
            created_at=req_datetime(data, "createdAt"),
            updated_at=req_datetime(data, "updatedAt"),
            description=opt_str(data, "description"),
            disabled_at=opt_datetime(data, "disabledAt"),
            listener=data.get("listener") is True,
            expires_at=opt_datetime(data, "expiresAt"),
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class SubscriptionSecrets:
    """A subscription's id and its secrets (``GET``/``POST /webhooks/{id}/secrets``)."""

    id: str
    secrets: tuple[SubscriptionSecret, ...]
    raw: Mapping[str, Any] = _raw()

    @property
    def active_secret(self) -> SubscriptionSecret | None:
        return _active(self.secrets)

    @classmethod
    def from_wire(cls, data: JsonObject) -> SubscriptionSecrets:
        return cls(req_str(data, "id"), parsed_list(data, "secrets", SubscriptionSecret.from_wire), raw=data)


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    """One attempt to deliver an event to a receiver."""

    attempt: int
    attempted_at: datetime
    status_code: int | None = None
    duration_ms: int | None = None
    error: str | None = None
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def from_wire(cls, data: JsonObject) -> DeliveryAttempt:
        return cls(
            attempt=req_int(data, "attempt"),
            attempted_at=req_datetime(data, "attemptedAt"),
            status_code=opt_int(data, "statusCode"),
            duration_ms=opt_int(data, "durationMs"),
            error=opt_str(data, "error"),
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class Delivery:
    """An event's delivery to one subscription (payintents extension)."""

    event_id: str
    event: str
    status: str
    attempts: tuple[DeliveryAttempt, ...]
    next_attempt_at: datetime | None = None
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def from_wire(cls, data: JsonObject) -> Delivery:
        return cls(
            event_id=req_str(data, "eventId"),
            event=req_str(data, "event"),
            status=req_str(data, "status"),
            attempts=parsed_list(data, "attempts", DeliveryAttempt.from_wire),
            next_attempt_at=opt_datetime(data, "nextAttemptAt"),
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class RetryScheduled:
    """The answer to re-sending an event (payintents extension)."""

    event_id: str
    deliveries_scheduled: int | None = None
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def from_wire(cls, data: JsonObject) -> RetryScheduled:
        return cls(req_str(data, "eventId"), opt_int(data, "deliveriesScheduled"), raw=data)


def array_of(parse: Callable[[JsonObject], T], what: str) -> Callable[[Any], tuple[T, ...]]:
    """A parser for a JSON array answer (``GET /webhooks``, ``GET /webhooks/events``)."""

    def parse_array(data: Any) -> tuple[T, ...]:
        if not isinstance(data, list):
            raise ResponseFormatError(f"expected a JSON array for {what}")
        return tuple(parse(as_object(item, what)) for item in data)

    return parse_array


def data_list_of(parse: Callable[[JsonObject], T], what: str) -> Callable[[Any], tuple[T, ...]]:
    """A parser for ``{"data": [...]}`` answers."""
    return lambda data: parsed_list(as_object(data, what), "data", parse)
