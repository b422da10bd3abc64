"""Use cases on customers: create, read, update, delete, search, customer secrets, and the
customer's own view of their saved cards, authorised by a customer secret (ADR 0028)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta
from typing import Any

from payintents.domain.customer import (
    CUSTOMER_NOT_FOUND,
    PAYMENT_METHOD_NOT_FOUND,
    Customer,
    CustomerSecret,
    PaymentMethod,
    SavedCard,
    expiry_as_date,
    issue_secret,
)
from payintents.domain.errors import NotFoundError
from payintents.domain.intent import Environment, Scope
from payintents.service.accounts import OpenedKey
from payintents.service.customer_ports import CustomerPage
from payintents.service.dependencies import Dependencies
from payintents.service.idempotent import Answer, IdempotentRequest, Render, execute_once
from payintents.service.ports import CardResult, RequestContext, UnitOfWork

CUSTOMER_SECRET_PREFIX = "cs_"  # noqa: S105 (the prefix only)
MAX_SECRET_LENGTH = 100


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def create_customer(
    deps: Dependencies,
    ctx: RequestContext,
    scope: Scope,
    details: dict[str, Any],
    request: IdempotentRequest,
    render: Render[Customer],
) -> Answer:
    def action(uow: UnitOfWork, now: datetime) -> Customer:
        kept = {name: value for name, value in details.items() if value is not None}
        customer = Customer(deps.ids.new_id("cust", scope.environment), scope, kept, now, now)
        uow.customers.add(customer)
        return customer

    return await execute_once(deps, ctx, scope, request, action, render)


def ensure_customer(uow: UnitOfWork, scope: Scope, customer_id: str) -> Customer:
    customer = uow.customers.get(scope, customer_id)
    if customer is None:
        raise NotFoundError(CUSTOMER_NOT_FOUND)
    return customer


async def get_customers(deps: Dependencies, scope: Scope, customer_ids: list[str]) -> list[Customer]:
    """The customers with these ids that exist, in the order asked (Dojo's GET takes several,
    comma-separated); none of them → not found."""

    def unit(uow: UnitOfWork) -> list[Customer]:
        found = [uow.customers.get(scope, customer_id) for customer_id in dict.fromkeys(customer_ids)]
        customers = [customer for customer in found if customer is not None]
        if not customers:
            raise NotFoundError(CUSTOMER_NOT_FOUND)
        return customers

    return await deps.runner().read(unit)


async def update_customer(
    deps: Dependencies, ctx: RequestContext, scope: Scope, customer_id: str, changes: dict[str, Any]
) -> Customer:
    def unit(uow: UnitOfWork) -> Customer:
        customer = ensure_customer(uow, scope, customer_id)
        customer.update(changes, ctx.now(deps.clock))
        uow.customers.save(customer)
        return customer

    return await deps.runner().write(unit)


async def delete_customer(deps: Dependencies, scope: Scope, customer_id: str) -> None:
    def unit(uow: UnitOfWork) -> None:
        if not uow.customers.delete(scope, customer_id):
            raise NotFoundError(CUSTOMER_NOT_FOUND)

    await deps.runner().write(unit)


async def search_customers(
    deps: Dependencies, scope: Scope, limit: int, after: str | None, before: str | None
) -> CustomerPage:
    return await deps.runner().read(lambda uow: uow.customers.page(scope, limit, after, before))


async def create_secret(
    deps: Dependencies, ctx: RequestContext, scope: Scope, customer_id: str
) -> CustomerSecret:
    def unit(uow: UnitOfWork) -> CustomerSecret:
        customer = ensure_customer(uow, scope, customer_id)
        secret = issue_secret(deps.ids.new_id("cs", scope.environment), customer, ctx.now(deps.clock))
        uow.customers.add_secret(secret, hash_secret(secret.secret))
        return secret

    return await deps.runner().write(unit)


def open_customer_session(deps: Dependencies, raw_secret: str) -> tuple[OpenedKey, str] | None:
    """What a customer secret opens (its customer's scope, on that account's clock) and the
    customer's id; None for an unknown or expired secret."""
    if not raw_secret.startswith(CUSTOMER_SECRET_PREFIX) or len(raw_secret) > MAX_SECRET_LENGTH:
        return None
    wanted = hash_secret(raw_secret)
    with deps.read() as uow:
        grant = uow.customers.find_secret(wanted)
        if grant is None:
            return None
        sandbox = grant.scope.environment is Environment.SANDBOX
        offset = uow.sandbox.clock_offset(grant.scope.account_id) if sandbox else timedelta(0)
    if deps.clock.now() + offset >= grant.expire_at:
        return None
    return OpenedKey(grant.scope, offset, failures_armed=False), grant.customer_id


def ensure_same_customer(opened_for: str | None, customer_id: str) -> None:
    """A secret opens its own customer's methods only; any other id is as good as missing."""
    if opened_for is None or not hmac.compare_digest(opened_for, customer_id):
        raise NotFoundError(CUSTOMER_NOT_FOUND)


async def list_payment_methods(deps: Dependencies, scope: Scope, customer_id: str) -> list[PaymentMethod]:
    def unit(uow: UnitOfWork) -> list[PaymentMethod]:
        ensure_customer(uow, scope, customer_id)
        return uow.payment_methods.for_customer(scope, customer_id)

    return await deps.runner().read(unit)


async def delete_payment_method(deps: Dependencies, scope: Scope, customer_id: str, method_id: str) -> None:
    def unit(uow: UnitOfWork) -> None:
        ensure_customer(uow, scope, customer_id)
        method = uow.payment_methods.get(scope, method_id)
        if method is None or method.customer_id != customer_id:
            raise NotFoundError(PAYMENT_METHOD_NOT_FOUND)
        uow.payment_methods.delete(scope, method_id)

    await deps.runner().write(unit)


def save_card_as_method(
    deps: Dependencies,
    uow: UnitOfWork,
    scope: Scope,
    result: CardResult,
    token: str,
    now: datetime,
    customer_id: str | None,
    setup_intent_id: str | None = None,
) -> PaymentMethod:
    """Keep an approved card as a payment method: what is shown of it, and the processor's token."""
    card = result.card
    saved = SavedCard(card["cardNumber"], expiry_as_date(card["expiryDate"]), card["cardType"])
    method = PaymentMethod(
        id=deps.ids.new_id("pm", scope.environment),
        scope=scope,
        card=saved,
        processor_token=token,
        created_at=now,
        customer_id=customer_id,
        setup_intent_id=setup_intent_id,
    )
    uow.payment_methods.add(method)
    return method


def customer_and_cards(
    deps: Dependencies, scope: Scope, customer_id: str
) -> tuple[Customer, list[PaymentMethod]]:
    """For the dashboard (a worker thread): a customer of the scope and their saved cards."""
    with deps.read() as uow:
        customer = ensure_customer(uow, scope, customer_id)
        return customer, uow.payment_methods.for_customer(scope, customer_id)


def first_customers(deps: Dependencies, scope: Scope, limit: int) -> CustomerPage:
    """For the dashboard (a worker thread): the scope's customers, oldest first."""
    with deps.read() as uow:
        return uow.customers.page(scope, limit, None, None)
