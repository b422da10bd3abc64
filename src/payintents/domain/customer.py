"""Customers, their short-lived secrets, and the cards saved for them (payment methods).

A customer's details are what the merchant sent (name, email, phone, VAT number, addresses),
kept as given; ``document_version`` counts the changes, as Dojo's ``documentVersion`` does.
A customer secret authorises the customer's own (public) endpoints until it expires; only its
hash is stored. A saved card is a payment method: its masked number, scheme and expiry for
showing, and the processor's token for charging it later.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from payintents.domain.intent import Scope

# Dojo's example secret lives 15 minutes and 22 seconds; we give 15 minutes.
CUSTOMER_SECRET_LIFETIME = timedelta(minutes=15)
CUSTOMER_NOT_FOUND = "The customer does not exist."
PAYMENT_METHOD_NOT_FOUND = "The payment method does not exist."
# The properties of a customer the merchant sets (CreateCustomerRequest / UpdateCustomerRequest).
DETAIL_NAMES = ("name", "emailAddress", "phoneNumber", "vatNumber", "billingAddress", "shippingAddress")


@dataclass(slots=True)
class Customer:
    id: str
    scope: Scope
    details: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    document_version: int = 0

    def update(self, changes: dict[str, Any], now: datetime) -> None:
        """Set the properties sent (null clears one); every update is a new document version."""
        for name, value in changes.items():
            if value is None:
                self.details.pop(name, None)
            else:
                self.details[name] = value
        self.document_version += 1
        self.updated_at = now


@dataclass(frozen=True, slots=True)
class CustomerSecret:
    """A secret as issued; the store keeps ``secret_hash`` only."""

    secret: str
    customer_id: str
    scope: Scope
    created_at: datetime
    expire_at: datetime


@dataclass(frozen=True, slots=True)
class SecretGrant:
    """What a presented customer secret opens, read back by its hash."""

    customer_id: str
    scope: Scope
    expire_at: datetime


def issue_secret(secret: str, customer: Customer, now: datetime) -> CustomerSecret:
    return CustomerSecret(secret, customer.id, customer.scope, now, now + CUSTOMER_SECRET_LIFETIME)


@dataclass(frozen=True, slots=True)
class SavedCard:
    """What is shown of a saved card: ``pan`` masked, ``expiry_date`` as YYYY-MM-DD (the month's
    last day, as Dojo shows it), ``scheme`` upper case."""

    pan: str
    expiry_date: str
    scheme: str


@dataclass(frozen=True, slots=True)
class PaymentMethod:
    """A saved card. ``customer_id`` is None for a card a setup intent without a customer saved;
    ``processor_token`` is what the processor charges it by, never shown."""

    id: str
    scope: Scope
    card: SavedCard
    processor_token: str
    created_at: datetime
    customer_id: str | None = None
    setup_intent_id: str | None = None


def expiry_as_date(expiry: str) -> str:
    """``MM/YY`` (the checkout's form) as the last day of that month, ``YYYY-MM-DD``."""
    month_text, _, year_text = expiry.partition("/")
    month, year = int(month_text), 2000 + int(year_text[-2:])
    next_month = datetime(year + month // 12, month % 12 + 1, 1)
    return (next_month - timedelta(days=1)).strftime("%Y-%m-%d")


def expiry_as_month(expiry_date: str) -> str:
    """A saved card's ``YYYY-MM-DD`` expiry as the card shows it, ``MM/YY``."""
    year, month, _ = expiry_date.split("-")
    return f"{month}/{year[-2:]}"
