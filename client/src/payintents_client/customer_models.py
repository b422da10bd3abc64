"""What the customer, saved-card, setup-intent and charge operations answer, as frozen
dataclasses read from the wire (``raw`` keeps the whole answer)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from payintents_client._parse import (
    JsonObject,
    opt_datetime,
    opt_object,
    opt_str,
    parsed_list,
    req_datetime,
    req_int,
    req_str,
    str_list,
)
from payintents_client.models import _raw


@dataclass(frozen=True, slots=True)
class Customer:
    id: str
    created_at: datetime
    updated_at: datetime
    document_version: int
    name: str | None = None
    email_address: str | None = None
    phone_number: str | None = None
    vat_number: str | None = None
    billing_address: Mapping[str, Any] | None = None
    shipping_address: Mapping[str, Any] | None = None
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def from_wire(cls, data: JsonObject) -> Customer:
        return cls(
            id=req_str(data, "id"),
            created_at=req_datetime(data, "createdAt"),
            updated_at=req_datetime(data, "updatedAt"),
            document_version=req_int(data, "documentVersion"),
            name=opt_str(data, "name"),
            email_address=opt_str(data, "emailAddress"),
            phone_number=opt_str(data, "phoneNumber"),
            vat_number=opt_str(data, "vatNumber"),
            billing_address=opt_object(data, "billingAddress"),
            shipping_address=opt_object(data, "shippingAddress"),
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class CustomerSecret:
    """A short-lived secret for the customer's own operations (``Client.customers.payment_methods``)."""

    secret: str
    created_at: datetime
    expire_at: datetime
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def from_wire(cls, data: JsonObject) -> CustomerSecret:
        return cls(
            req_str(data, "secret"), req_datetime(data, "createdAt"), req_datetime(data, "expireAt"), data
        )


@dataclass(frozen=True, slots=True)
class CustomerPage:
    data: tuple[Customer, ...]
    before: str | None = None
    after: str | None = None
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def from_wire(cls, data: JsonObject) -> CustomerPage:
        customers = parsed_list(data, "data", Customer.from_wire)
        return cls(customers, opt_str(data, "before"), opt_str(data, "after"), data)


@dataclass(frozen=True, slots=True)
class SavedPaymentMethod:
    """A saved card: ``card_details`` holds ``pan`` (masked), ``expiryDate`` and ``scheme``."""

    id: str
    card_details: Mapping[str, Any]
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def from_wire(cls, data: JsonObject) -> SavedPaymentMethod:
        return cls(req_str(data, "id"), opt_object(data, "cardDetails") or {}, data)


@dataclass(frozen=True, slots=True)
class CustomerPaymentMethods:
    customer_id: str
    merchant_id: str
    saved_payment_methods: tuple[SavedPaymentMethod, ...]
    supported_payment_methods: Mapping[str, Any]
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def from_wire(cls, data: JsonObject) -> CustomerPaymentMethods:
        return cls(
            req_str(data, "customerId"),
            req_str(data, "merchantId"),
            parsed_list(data, "savedPaymentMethods", SavedPaymentMethod.from_wire),
            opt_object(data, "supportedPaymentMethods") or {},
            data,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class SetupIntentPublic:
    """A setup intent as anyone holding its id sees it (no events)."""

    id: str
    status: str
    created_at: datetime
    updated_at: datetime
    expire_at: datetime
    reference: str
    merchant_initiated_transaction_type: str
    client_session_secret: str | None = None
    client_session_secret_expiration_date: datetime | None = None
    payment_methods: tuple[str, ...] = ()
    customer: Mapping[str, Any] | None = None
    description: str | None = None
    billing_address: Mapping[str, Any] | None = None
    shipping_details: Mapping[str, Any] | None = None
    metadata: Mapping[str, Any] | None = None
    terms: str | None = None
    merchant_config: Mapping[str, Any] | None = None
    config: Mapping[str, Any] | None = None
    payment_details: Mapping[str, Any] | None = None
    intended_amount: Mapping[str, Any] | None = None
    payment_source: str | None = None
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def fields_from_wire(cls, data: JsonObject) -> dict[str, Any]:
        objects = ("customer", "billingAddress", "shippingDetails", "metadata", "merchantConfig", "config")
        return {
            "id": req_str(data, "id"),
            "status": req_str(data, "status"),
            "created_at": req_datetime(data, "createdAt"),
            "updated_at": req_datetime(data, "updatedAt"),
            "expire_at": req_datetime(data, "expireAt"),
            "reference": req_str(data, "reference"),
            "merchant_initiated_transaction_type": req_str(data, "merchantInitiatedTransactionType"),
            "client_session_secret": opt_str(data, "clientSessionSecret"),
            "client_session_secret_expiration_date": opt_datetime(data, "clientSessionSecretExpirationDate"),
            "payment_methods": str_list(data, "paymentMethods"),
            **{_snake(name): opt_object(data, name) for name in objects},
            "description": opt_str(data, "description"),
            "terms": opt_str(data, "terms"),
            "payment_details": opt_object(data, "paymentDetails"),
            "intended_amount": opt_object(data, "intendedAmount"),
            "payment_source": opt_str(data, "paymentSource"),
            "raw": data,
        }

    @classmethod
    def from_wire(cls, data: JsonObject) -> SetupIntentPublic:
        return cls(**cls.fields_from_wire(data))


@dataclass(frozen=True, slots=True, kw_only=True)
class SetupIntent(SetupIntentPublic):
    """A setup intent as its merchant sees it, with ``setup_events``."""

    setup_events: tuple[Mapping[str, Any], ...]

    @classmethod
    def from_wire(cls, data: JsonObject) -> SetupIntent:
        events = parsed_list(data, "setupEvents", _as_is)
        return cls(setup_events=events, **cls.fields_from_wire(data))


@dataclass(frozen=True, slots=True)
class ChargeResponse:
    """The answer to a merchant-initiated charge: ``status`` ``Successful``."""

    payment_intent_id: str
    status: str
    message: str
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def from_wire(cls, data: JsonObject) -> ChargeResponse:
        return cls(req_str(data, "paymentIntentId"), req_str(data, "status"), req_str(data, "message"), data)


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


def _as_is(item: JsonObject) -> Mapping[str, Any]:
    return item
