"""Every API operation, once: its method, path, body, idempotency key and how to read the answer.

The synchronous and asynchronous clients run the same ``Call`` objects, so they cannot disagree.
A write that the API deduplicates carries an idempotency key chosen here, once per logical call
(a uuid4 unless the caller passes one): every retry of that call re-sends the same key.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from payintents_client._parse import as_object
from payintents_client.models import (
    Capture,
    Delivery,
    PaymentIntent,
    PaymentIntentPage,
    Refund,
    RefundCreated,
    RefundListItem,
    RetryScheduled,
    Reversal,
    Subscription,
    SubscriptionSecrets,
    WebhookEventGroup,
    array_of,
    data_list_of,
)
from payintents_client.money import Money
from payintents_client.request_models import (
    CreateCaptureRequest,
    CreatePaymentIntentRequest,
    CreateRefundRequest,
    SearchCursor,
    SearchPaymentIntentsRequest,
    SetAmountRequest,
    SetTipsAmountRequest,
    SubscribeRequest,
    UpdateSubscriptionRequest,
)

T = TypeVar("T")
Obj = Mapping[str, Any]
_REPLAY_SAFE_METHODS = frozenset({"GET", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One logical API call; retries re-send exactly this (same idempotency key)."""

    method: str
    path: str
    parse: Callable[[Any], T]
    body: Mapping[str, Any] | None = None
    params: Mapping[str, str] | None = None
    idempotency_key: str | None = None
    read_only: bool = False
    # Sent instead of the API key (a customer's own operations take the customer's secret).
    authorization: str | None = None

    @property
    def replay_safe(self) -> bool:
        """Sending it twice has the effect of sending it once (so any failure may be retried)."""
        return self.read_only or self.idempotency_key is not None or self.method in _REPLAY_SAFE_METHODS


def new_idempotency_key() -> str:
    return str(uuid.uuid4())


def path_segment(value: str) -> str:
    if not value:
        raise ValueError("an id must not be empty")
    return quote(value, safe="")


def _intent_path(payment_intent_id: str, suffix: str = "") -> str:
    return f"/payment-intents/{path_segment(payment_intent_id)}{suffix}"


def _nothing(_: Any) -> None:
    return None


def parser(parse: Callable[[Obj], T], what: str) -> Callable[[Any], T]:
    return lambda data: parse(as_object(data, what))


# -- payment intents ------------------------------------------------------------------------------


def create_intent(
    amount: Money,
    reference: str,
    *,
    capture_mode: str | None = None,
    description: str | None = None,
    tips_amount: Money | None = None,
    cashback_amount: Money | None = None,
    service_charge_amount: Money | None = None,
    customer: Mapping[str, Any] | None = None,
    billing_address: Mapping[str, Any] | None = None,
    shipping_details: Mapping[str, Any] | None = None,
    card_holder_not_present: bool | None = None,
    config: Mapping[str, Any] | None = None,
    request_security: Mapping[str, Any] | None = None,
    item_lines: Sequence[Mapping[str, Any]] | None = None,
    tax_lines: Sequence[Mapping[str, Any]] | None = None,
    payment_methods: Sequence[str] | None = None,
    action_link: Mapping[str, Any] | None = None,
    expire_at: datetime | None = None,
    auto_expire_in: str | None = None,
    auto_expire_action: str | None = None,
    metadata: Mapping[str, str] | None = None,
    setup_intent_id: str | None = None,
    order_details: Mapping[str, Any] | None = None,
    generate_remote_token: bool | None = None,
    is_not_online_checkout: bool | None = None,
    idempotency_key: str | None = None,
) -> Call[PaymentIntent]:
    """Create a payment intent (``POST /payment-intents``); it starts ``Created``."""
    request = CreatePaymentIntentRequest(
        amount=amount,
        reference=reference,
        capture_mode=capture_mode,
        tips_amount=tips_amount,
        cashback_amount=cashback_amount,
        service_charge_amount=service_charge_amount,
        description=description,
        customer=customer,
        billing_address=billing_address,
        shipping_details=shipping_details,
        card_holder_not_present=card_holder_not_present,
        config=config,
        request_security=request_security,
        item_lines=item_lines,
        tax_lines=tax_lines,
        payment_methods=payment_methods,
        action_link=action_link,
        expire_at=expire_at,
        auto_expire_in=auto_expire_in,
        auto_expire_action=auto_expire_action,
        metadata=metadata,
        setup_intent_id=setup_intent_id,
        order_details=order_details,
        generate_remote_token=generate_remote_token,
        is_not_online_checkout=is_not_online_checkout,
    )
    return Call(
        "POST",
        "/payment-intents",
        parser(PaymentIntent.from_wire, "PaymentIntent"),
        body=request.to_wire(),
        idempotency_key=idempotency_key or new_idempotency_key(),
    )


def get_intent(payment_intent_id: str, *, return_canceled: bool = False) -> Call[PaymentIntent]:
    """Retrieve a payment intent; a ``Canceled`` one only with ``return_canceled=True``."""
    params = {"returnCanceled": "true"} if return_canceled else None
    return Call(
        "GET",
        _intent_path(payment_intent_id),
        parser(PaymentIntent.from_wire, "PaymentIntent"),
        params=params,
    )


def cancel_intent(payment_intent_id: str, *, idempotency_key: str | None = None) -> Call[PaymentIntent]:
    """Cancel a ``Created`` payment intent (``DELETE /payment-intents/{id}``)."""
    return Call(
        "DELETE",
        _intent_path(payment_intent_id),
        parser(PaymentIntent.from_wire, "PaymentIntent"),
        idempotency_key=idempotency_key or new_idempotency_key(),
    )


def search_page(
    *,
    statuses: Sequence[str] | None = None,
    start_date: datetime | None = None,
    end_date: datetime | None = None,
    limit: int | None = None,
    before: str | None = None,
    after: str | None = None,
) -> Call[PaymentIntentPage]:
    """One page of ``POST /payment-intents/search``, newest first."""
    cursor = SearchCursor(limit, before, after) if (limit or before or after) else None
    request = SearchPaymentIntentsRequest(statuses, start_date, end_date, cursor)
    return Call(
        "POST",
        "/payment-intents/search",
        parser(PaymentIntentPage.from_wire, "PagedPaymentIntent"),
        body=request.to_wire(),
        read_only=True,
    )


def capture(
    payment_intent_id: str, amount: int, *, tips_amount: int | None = None, idempotency_key: str | None = None
) -> Call[Capture]:
    """Capture ``amount`` minor units of a Manual intent's authorization."""
    return Call(
        "POST",
        _intent_path(payment_intent_id, "/captures"),
        parser(Capture.from_wire, "Capture"),
        body=CreateCaptureRequest(amount, tips_amount).to_wire(),
        idempotency_key=idempotency_key or new_idempotency_key(),
    )


def reverse(payment_intent_id: str, *, idempotency_key: str | None = None) -> Call[Reversal]:
    """Reverse a payment in full (within the reversal window)."""
    return Call(
        "POST",
        _intent_path(payment_intent_id, "/reversal"),
        parser(Reversal.from_wire, "Reversal"),
        idempotency_key=idempotency_key or new_idempotency_key(),
    )


def change_amount(
    payment_intent_id: str,
    amount: Money,
    *,
    item_lines: Sequence[Mapping[str, Any]] | None = None,
    tax_lines: Sequence[Mapping[str, Any]] | None = None,
    idempotency_key: str | None = None,
) -> Call[PaymentIntent]:
    """Change the amount of an intent created with ``config.payment.customAmountAllowed``."""
    return Call(
        "POST",
        _intent_path(payment_intent_id, "/amount"),
        parser(PaymentIntent.from_wire, "PaymentIntent"),
        body=SetAmountRequest(amount, item_lines, tax_lines).to_wire(),
        idempotency_key=idempotency_key or new_idempotency_key(),
    )


def change_tips(
    payment_intent_id: str, tips_amount: Money, *, idempotency_key: str | None = None
) -> Call[PaymentIntent]:
    """Change the tips of an intent created with ``config.payment.tipsAllowed``."""
    return Call(
        "POST",
        _intent_path(payment_intent_id, "/tips-amount"),
        parser(PaymentIntent.from_wire, "PaymentIntent"),
        body=SetTipsAmountRequest(tips_amount).to_wire(),
        idempotency_key=idempotency_key or new_idempotency_key(),
    )


def refresh_client_session_secret(
    payment_intent_id: str, *, idempotency_key: str | None = None
) -> Call[PaymentIntent]:
    """Issue a new single-use ``clientSessionSecret``."""
    return Call(
        "POST",
        _intent_path(payment_intent_id, "/refresh-client-session-secret"),
        parser(PaymentIntent.from_wire, "PaymentIntent"),
        idempotency_key=idempotency_key or new_idempotency_key(),
    )


# -- refunds ------------------------------------------------------------------------------------


def create_refund(
    payment_intent_id: str,
    amount: int,
    refund_reason: str | None = None,
    notes: str | None = None,
    previous_transaction_id: str | None = None,
    idempotency_key: str | None = None,
) -> Call[RefundCreated]:
    """Refund ``amount`` minor units of a captured payment (Dojo's refund endpoint).

    One idempotency key per call (yours, or a fresh uuid4), re-sent on every retry: a retry after
    a lost answer can never refund twice.
    """
    body = CreateRefundRequest(amount, refund_reason, notes, previous_transaction_id)
    return Call(
        "POST",
        _intent_path(payment_intent_id, "/refunds"),
        parser(RefundCreated.from_wire, "RefundCreated"),
        body=body.to_wire(),
        idempotency_key=idempotency_key or new_idempotency_key(),
    )


def get_refund(refund_id: str) -> Call[Refund]:
    """Retrieve a refund by id (``GET /payment-intents/refunds/{refundId}``)."""
    return Call(
        "GET", f"/payment-intents/refunds/{path_segment(refund_id)}", parser(Refund.from_wire, "Refund")
    )


def list_refunds(payment_intent_id: str) -> Call[tuple[RefundListItem, ...]]:
    """An intent's refunds with amounts, oldest first (payintents extension)."""
    return Call(
        "GET",
        _intent_path(payment_intent_id, "/refunds"),
        data_list_of(RefundListItem.from_wire, "RefundList"),
    )


def send_receipt(payment_intent_id: str, emails: Sequence[str]) -> Call[None]:
    """Email the payment's receipt to ``emails`` (1-10 addresses). payintents' sandbox records it
    instead of mailing it: read it back with ``client.sandbox.receipts``."""
    if isinstance(emails, str):
        raise TypeError("emails is a list of addresses, not one string")
    return Call("POST", _intent_path(payment_intent_id, "/receipt"), _nothing, body={"emails": list(emails)})


# -- webhooks -----------------------------------------------------------------------------------


def _subscription_path(subscription_id: str, suffix: str = "") -> str:
    return f"/webhooks/{path_segment(subscription_id)}{suffix}"


def webhook_events() -> Call[tuple[WebhookEventGroup, ...]]:
    """The events one can subscribe to, grouped by model."""
    return Call("GET", "/webhooks/events", array_of(WebhookEventGroup.from_wire, "WebhookEvents"))


def list_subscriptions() -> Call[tuple[Subscription, ...]]:
    """Every webhook subscription of this key's account and environment."""
    return Call("GET", "/webhooks", array_of(Subscription.from_wire, "SubscriptionList"))


def subscribe(
    events: Sequence[str], url: str, description: str | None = None, *, listener: bool = False
) -> Call[Subscription]:
    """Subscribe ``url`` to ``events``; the answer carries the active signing secret.

    ``listener=True`` (payintents extension, sandbox keys) makes a listener's subscription, as
    ``webhooks listen`` does: it receives its own copy of the events beside the account's
    subscriptions, and expires unless renewed (any ``update``) within the hour.
    """
    request = SubscribeRequest(tuple(events), url, description, True if listener else None)
    return Call("POST", "/webhooks", parser(Subscription.from_wire, "Subscription"), body=request.to_wire())


def update_subscription(
    subscription_id: str,
    *,
    events: Sequence[str] | None = None,
    url: str | None = None,
    description: str | None = None,
) -> Call[Subscription]:
    """Change a subscription's events, url or description."""
    body = UpdateSubscriptionRequest(None if events is None else tuple(events), url, description)
    return Call(
        "PATCH",
        _subscription_path(subscription_id),
        parser(Subscription.from_wire, "Subscription"),
        body=body.to_wire(),
    )


def delete_subscription(subscription_id: str) -> Call[None]:
    """Delete a subscription."""
    return Call("DELETE", _subscription_path(subscription_id), _nothing)


def list_secrets(subscription_id: str) -> Call[SubscriptionSecrets]:
    """A subscription's signing secrets."""
    return Call(
        "GET",
        _subscription_path(subscription_id, "/secrets"),
        parser(SubscriptionSecrets.from_wire, "SecretsResponse"),
    )


def generate_secret(subscription_id: str) -> Call[SubscriptionSecrets]:
    """Add a new, inactive secret (activate it to rotate)."""
    return Call(
        "POST",
        _subscription_path(subscription_id, "/secrets"),
        parser(SubscriptionSecrets.from_wire, "SecretsResponse"),
    )


def activate_secret(subscription_id: str, secret_id: str) -> Call[None]:
    """Make a secret the one that signs deliveries."""
    return Call(
        "PUT", _subscription_path(subscription_id, f"/secrets/{path_segment(secret_id)}/activate"), _nothing
    )


def delete_secret(subscription_id: str, secret_id: str) -> Call[None]:
    """Delete an inactive secret."""
    return Call(
        "DELETE", _subscription_path(subscription_id, f"/secrets/{path_segment(secret_id)}"), _nothing
    )


def list_deliveries(subscription_id: str) -> Call[tuple[Delivery, ...]]:
    """Recent deliveries to a subscription and their attempts (payintents extension)."""
    return Call(
        "GET",
        _subscription_path(subscription_id, "/deliveries"),
        data_list_of(Delivery.from_wire, "DeliveryList"),
    )


def retry_event(event_id: str) -> Call[RetryScheduled]:
    """Send an event again now (payintents extension)."""
    return Call(
        "POST",
        f"/webhooks/deliveries/{path_segment(event_id)}/retry",
        parser(RetryScheduled.from_wire, "RetryScheduled"),
    )
