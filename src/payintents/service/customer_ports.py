"""The ports for customers, their secrets, saved cards and setup intents (ADR 0028)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from payintents.domain.customer import Customer, CustomerSecret, PaymentMethod, SecretGrant
from payintents.domain.intent import Scope
from payintents.domain.setup_intent import SetupIntent


@dataclass(frozen=True, slots=True)
class CustomerPage:
    customers: list[Customer]
    has_more: bool


class CustomerRepository(Protocol):
    def add(self, customer: Customer) -> None: ...
    def get(self, scope: Scope, customer_id: str) -> Customer | None: ...
    def save(self, customer: Customer) -> None: ...
    def delete(self, scope: Scope, customer_id: str) -> bool:
        """Delete the customer with its secrets and saved cards; False if it was not there."""

    def page(self, scope: Scope, limit: int, after: str | None, before: str | None) -> CustomerPage:
        """Customers oldest first, from after (or up to before) the customer with that id."""

    def add_secret(self, secret: CustomerSecret, secret_hash: str) -> None: ...
    def find_secret(self, secret_hash: str) -> SecretGrant | None: ...


class PaymentMethodRepository(Protocol):
    def add(self, method: PaymentMethod) -> None: ...
    def get(self, scope: Scope, method_id: str) -> PaymentMethod | None: ...
    def for_customer(self, scope: Scope, customer_id: str) -> list[PaymentMethod]:
        """The customer's saved cards, oldest first."""

    def delete(self, scope: Scope, method_id: str) -> bool: ...


class SetupIntentRepository(Protocol):
    def add(self, intent: SetupIntent) -> None: ...
    def get(self, scope: Scope, setup_intent_id: str) -> SetupIntent | None: ...
    def find(self, setup_intent_id: str) -> SetupIntent | None:
        """Look up by id alone: only for the public endpoints and the checkout (the id is the capability)."""

    def save(self, intent: SetupIntent) -> None: ...
