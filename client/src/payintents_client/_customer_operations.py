"""Dojo's customer, saved-card, setup-intent and charge operations, as ``Call`` objects like
``_operations`` (ADR 0028 of the server)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from payintents_client._operations import Call, new_idempotency_key, parser, path_segment
from payintents_client.customer_models import (
    ChargeResponse,
    Customer,
    CustomerPage,
    CustomerPaymentMethods,
    CustomerSecret,
    SetupIntent,
    SetupIntentPublic,
)
from payintents_client.models import array_of
from payintents_client.money import Money


def _details(**given: Any) -> dict[str, Any]:
    """The properties given, by their wire names; None means "not sent"."""
    names = {"email_address": "emailAddress", "phone_number": "phoneNumber", "vat_number": "vatNumber"}
    names |= {"billing_address": "billingAddress", "shipping_address": "shippingAddress"}
    return {names.get(name, name): value for name, value in given.items() if value is not None}


def _ignored(_: Any) -> None:
    return None


def create_customer(
    *,
    name: str | None = None,
    email_address: str | None = None,
    phone_number: str | None = None,
    vat_number: str | None = None,
    billing_address: Mapping[str, Any] | None = None,
    shipping_address: Mapping[str, Any] | None = None,
    idempotency_key: str | None = None,
) -> Call[Customer]:
    """Create a customer (``POST /customers``)."""
    body = _details(
        name=name,
        email_address=email_address,
        phone_number=phone_number,
        vat_number=vat_number,
        billing_address=billing_address,
        shipping_address=shipping_address,
    )
    return Call(
        "POST",
        "/customers",
        parser(Customer.from_wire, "CustomerFull"),
        body=body,
        idempotency_key=idempotency_key or new_idempotency_key(),
    )


def get_customers(customer_id: str, *more_ids: str) -> Call[tuple[Customer, ...]]:
    """The customers with these ids that exist (Dojo's GET takes several)."""
    ids = ",".join(path_segment(one) for one in (customer_id, *more_ids))
    return Call("GET", f"/customers/{ids}", array_of(Customer.from_wire, "CustomerList"))


def update_customer(
    customer_id: str,
    *,
    name: str | None = None,
    email_address: str | None = None,
    phone_number: str | None = None,
    vat_number: str | None = None,
    billing_address: Mapping[str, Any] | None = None,
    shipping_address: Mapping[str, Any] | None = None,
) -> Call[Customer]:
    """Set the properties given (the others stay as they are)."""
    body = _details(
        name=name,
        email_address=email_address,
        phone_number=phone_number,
        vat_number=vat_number,
        billing_address=billing_address,
        shipping_address=shipping_address,
    )
    path = f"/customers/{path_segment(customer_id)}"
    return Call("PATCH", path, parser(Customer.from_wire, "CustomerFull"), body=body)


def delete_customer(customer_id: str) -> Call[None]:
    """Delete a customer with their saved cards."""
    return Call("DELETE", f"/customers/{path_segment(customer_id)}", _ignored)


def create_customer_secret(customer_id: str) -> Call[CustomerSecret]:
    """A secret for the customer's own operations, valid for 15 minutes."""
    return Call(
        "POST",
        f"/customers/{path_segment(customer_id)}/create-secret",
        parser(CustomerSecret.from_wire, "CustomerSecret"),
    )


def search_customers(
    *, limit: int | None = None, before: str | None = None, after: str | None = None
) -> Call[CustomerPage]:
    """One page of customers, oldest first."""
    body = {k: v for k, v in {"limit": limit, "before": before, "after": after}.items() if v is not None}
    return Call(
        "POST",
        "/customers/search",
        parser(CustomerPage.from_wire, "PagedCustomer"),
        body=body,
        read_only=True,
    )


def payment_methods(customer_id: str, customer_secret: str) -> Call[CustomerPaymentMethods]:
    """The customer's saved cards, with a secret of theirs (not the API key)."""
    return Call(
        "GET",
        f"/customers/public/{path_segment(customer_id)}/payment-methods",
        parser(CustomerPaymentMethods.from_wire, "CustomerPaymentMethods"),
        authorization=f"Basic {customer_secret}",
    )


def delete_payment_method(customer_id: str, payment_method_id: str, customer_secret: str) -> Call[None]:
    """Delete one of the customer's saved cards, with a secret of theirs."""
    path = f"/customers/public/{path_segment(customer_id)}/payment-methods/{path_segment(payment_method_id)}"
    return Call("DELETE", path, _ignored, authorization=f"Basic {customer_secret}")


def create_setup_intent(
    reference: str,
    terms: str,
    merchant_initiated_transaction_type: str = "Unscheduled",
    *,
    customer_id: str | None = None,
    intended_amount: Money | None = None,
    expire_at: datetime | None = None,
    idempotency_key: str | None = None,
) -> Call[SetupIntent]:
    """Create a setup intent; the shopper saves a card on its hosted form (``/setup/{id}``)."""
    body: dict[str, Any] = {
        "reference": reference,
        "terms": terms,
        "merchantInitiatedTransactionType": merchant_initiated_transaction_type,
    }
    if customer_id is not None:
        body["customer"] = {"id": customer_id}
    if intended_amount is not None:
        body["intendedAmount"] = {
            "value": intended_amount.value,
            "currencyCode": intended_amount.currency_code,
        }
    if expire_at is not None:
        body["expireAt"] = expire_at.isoformat()
    return Call(
        "POST",
        "/setup-intents",
        parser(SetupIntent.from_wire, "SetupIntent"),
        body=body,
        idempotency_key=idempotency_key or new_idempotency_key(),
    )


def _setup_path(setup_intent_id: str, suffix: str = "", public: bool = False) -> str:
    return f"/setup-intents/{'public/' if public else ''}{path_segment(setup_intent_id)}{suffix}"


def get_setup_intent(setup_intent_id: str) -> Call[SetupIntent]:
    return Call("GET", _setup_path(setup_intent_id), parser(SetupIntent.from_wire, "SetupIntent"))


def cancel_setup_intent(setup_intent_id: str) -> Call[SetupIntent]:
    """Cancel a Created or Authorized setup intent."""
    return Call("DELETE", _setup_path(setup_intent_id), parser(SetupIntent.from_wire, "SetupIntent"))


def refresh_setup_secret(setup_intent_id: str) -> Call[SetupIntent]:
    """A new client session secret for a Created setup intent."""
    path = _setup_path(setup_intent_id, "/refresh-client-session-secret")
    return Call("POST", path, parser(SetupIntent.from_wire, "SetupIntent"))


def get_public_setup_intent(setup_intent_id: str) -> Call[SetupIntentPublic]:
    """The setup intent as anyone holding its id sees it."""
    path = _setup_path(setup_intent_id, public=True)
    return Call("GET", path, parser(SetupIntentPublic.from_wire, "SetupIntentPublic"))


def refresh_public_setup_secret(setup_intent_id: str) -> Call[SetupIntentPublic]:
    """A new client session secret, by the setup intent's id alone."""
    path = _setup_path(setup_intent_id, "/refresh-client-session-secret", public=True)
    return Call("POST", path, parser(SetupIntentPublic.from_wire, "SetupIntentPublic"))


def charge(payment_intent_id: str, *, idempotency_key: str | None = None) -> Call[ChargeResponse]:
    """Charge the card the intent's setup intent saved (merchant-initiated); one charge per key."""
    return Call(
        "POST",
        f"/payment-intents/{path_segment(payment_intent_id)}/charge",
        parser(ChargeResponse.from_wire, "ChargeResponse"),
        idempotency_key=idempotency_key or new_idempotency_key(),
    )
