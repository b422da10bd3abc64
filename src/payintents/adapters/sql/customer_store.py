"""Customers, customer secrets and saved cards (payment methods) as rows; every read and write is
confined to one (account, environment), except a secret's lookup by its hash."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, delete, select, update

from payintents.adapters.sql.schema import customer_secrets, customers, payment_methods
from payintents.adapters.sql.statements import in_scope
from payintents.domain.customer import Customer, CustomerSecret, PaymentMethod, SavedCard, SecretGrant
from payintents.domain.intent import Environment, Scope
from payintents.service.customer_ports import CustomerPage


def _scope_of(row: Any) -> Scope:
    return Scope(row["account_id"], Environment(row["environment"]))


def _scope_values(scope: Scope) -> dict[str, str]:
    return {"account_id": scope.account_id, "environment": scope.environment.value}


class SqlCustomerRepository:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def add(self, customer: Customer) -> None:
        self._conn.execute(customers.insert().values(id=customer.id, **_customer_values(customer)))

    def get(self, scope: Scope, customer_id: str) -> Customer | None:
        query = select(customers).where(in_scope(customers, scope), customers.c.id == customer_id)
        row = self._conn.execute(query).mappings().first()
        return None if row is None else _customer(row)

    def save(self, customer: Customer) -> None:
        where = (in_scope(customers, customer.scope), customers.c.id == customer.id)
        self._conn.execute(update(customers).where(*where).values(**_customer_values(customer)))

    def delete(self, scope: Scope, customer_id: str) -> bool:
        self._conn.execute(
            delete(payment_methods).where(
                in_scope(payment_methods, scope), payment_methods.c.customer_id == customer_id
            )
        )
        self._conn.execute(delete(customer_secrets).where(customer_secrets.c.customer_id == customer_id))
        gone = self._conn.execute(
            delete(customers).where(in_scope(customers, scope), customers.c.id == customer_id)
        )
        return gone.rowcount > 0

    def page(self, scope: Scope, limit: int, after: str | None, before: str | None) -> CustomerPage:
        query = select(customers).where(in_scope(customers, scope))
        if after is not None:
            query = query.where(customers.c.id > after)
            order = customers.c.id.asc()
        elif before is not None:
            query = query.where(customers.c.id < before)
            order = customers.c.id.desc()
        else:
            order = customers.c.id.asc()
        rows = list(self._conn.execute(query.order_by(order).limit(limit + 1)).mappings())
        found = [_customer(row) for row in rows[:limit]]
        if before is not None:
            found.reverse()
        return CustomerPage(found, len(rows) > limit)

    def add_secret(self, secret: CustomerSecret, secret_hash: str) -> None:
        self._conn.execute(
            customer_secrets.insert().values(
                secret_hash=secret_hash,
                customer_id=secret.customer_id,
                created_at=secret.created_at,
                expire_at=secret.expire_at,
                **_scope_values(secret.scope),
            )
        )

    def find_secret(self, secret_hash: str) -> SecretGrant | None:
        query = select(customer_secrets).where(customer_secrets.c.secret_hash == secret_hash)
        row = self._conn.execute(query).mappings().first()
        return None if row is None else SecretGrant(row["customer_id"], _scope_of(row), row["expire_at"])


def _customer_values(customer: Customer) -> dict[str, Any]:
    return {
        "details": json.dumps(customer.details, separators=(",", ":")),
        "document_version": customer.document_version,
        "created_at": customer.created_at,
        "updated_at": customer.updated_at,
        **_scope_values(customer.scope),
    }


def _customer(row: Any) -> Customer:
    return Customer(
        id=row["id"],
        scope=_scope_of(row),
        details=json.loads(row["details"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        document_version=row["document_version"],
    )


class SqlPaymentMethodRepository:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def add(self, method: PaymentMethod) -> None:
        self._conn.execute(
            payment_methods.insert().values(
                id=method.id,
                customer_id=method.customer_id,
                setup_intent_id=method.setup_intent_id,
                pan=method.card.pan,
                expiry_date=method.card.expiry_date,
                scheme=method.card.scheme,
                processor_token=method.processor_token,
                created_at=method.created_at,
                **_scope_values(method.scope),
            )
        )

    def get(self, scope: Scope, method_id: str) -> PaymentMethod | None:
        query = select(payment_methods).where(
            in_scope(payment_methods, scope), payment_methods.c.id == method_id
        )
        row = self._conn.execute(query).mappings().first()
        return None if row is None else _method(row)

    def for_customer(self, scope: Scope, customer_id: str) -> list[PaymentMethod]:
        query = (
            select(payment_methods)
            .where(in_scope(payment_methods, scope), payment_methods.c.customer_id == customer_id)
            .order_by(payment_methods.c.created_at, payment_methods.c.id)
        )
        return [_method(row) for row in self._conn.execute(query).mappings()]

    def delete(self, scope: Scope, method_id: str) -> bool:
        gone = self._conn.execute(
            delete(payment_methods).where(in_scope(payment_methods, scope), payment_methods.c.id == method_id)
        )
        return gone.rowcount > 0


def _method(row: Any) -> PaymentMethod:
    return PaymentMethod(
        id=row["id"],
        scope=_scope_of(row),
        card=SavedCard(row["pan"], row["expiry_date"], row["scheme"]),
        processor_token=row["processor_token"],
        created_at=row["created_at"],
        customer_id=row["customer_id"],
        setup_intent_id=row["setup_intent_id"],
    )
