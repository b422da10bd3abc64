"""Webhook subscriptions (with events and secrets) and the delivery queue, in SQL.

Claiming is a lease: an UPDATE sets ``lease_owner``/``leased_until`` on due rows that nobody holds,
and only the holder may record the attempt. On PostgreSQL the candidate rows are picked with
``FOR UPDATE SKIP LOCKED`` so dispatchers never wait on each other; on SQLite the write lock
taken by BEGIN IMMEDIATE serialises claims.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, literal, select, update
from sqlalchemy.exc import IntegrityError

from payintents.adapters.sql.prepared import PreparedStatement
from payintents.adapters.sql.schema import (
    webhook_deliveries,
    webhook_secrets,
    webhook_subscription_events,
    webhook_subscriptions,
)
from payintents.adapters.sql.statements import in_bound_scope, in_scope, scope_params
from payintents.domain.errors import StateConflictError
from payintents.domain.events import EventName, OutboxEvent
from payintents.domain.intent import Environment, Scope
from payintents.domain.webhooks import Secret, Subscription

subs = webhook_subscriptions
sub_events = webhook_subscription_events
secrets_t = webhook_secrets
dl = webhook_deliveries
HISTORY_LIMIT = 20


class SqlWebhookRepository:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def add(self, subscription: Subscription) -> None:
        self._conn.execute(insert(subs).values(_subscription_values(subscription)))
        self._write_children(subscription)

    def get(self, scope: Scope, subscription_id: str) -> Subscription | None:
        query = select(subs).where(in_scope(subs, scope), subs.c.id == subscription_id)
        if self._conn.dialect.name == "postgresql":
            # Changes are read-modify-save: without the row lock, concurrent changes (two secrets
            # generated at once) would each save their own copy and all but one would be lost.
            # SQLite's BEGIN IMMEDIATE already serialises the whole transaction.
            query = query.with_for_update()
        row = self._conn.execute(query).mappings().first()
        return None if row is None else self._load(row)

    def list(self, scope: Scope) -> list[Subscription]:
        rows = self._conn.execute(
            select(subs).where(in_scope(subs, scope)).order_by(subs.c.created_at, subs.c.id)
        ).mappings()
        return [self._load(row) for row in rows.all()]

    def save(self, subscription: Subscription) -> None:
        self._conn.execute(
            update(subs).where(subs.c.id == subscription.id).values(_subscription_values(subscription))
        )
        self._conn.execute(delete(sub_events).where(sub_events.c.subscription_id == subscription.id))
        self._conn.execute(delete(secrets_t).where(secrets_t.c.subscription_id == subscription.id))
        self._write_children(subscription)

    def delete(self, scope: Scope, subscription_id: str) -> bool:
        # No row lock first (unlike get): a dispatcher disabling it after a 410 holds a delivery row
        # and then wants this row, so locking this row before the deliveries could deadlock.
        found = select(subs.c.id).where(in_scope(subs, scope), subs.c.id == subscription_id)
        if self._conn.execute(found).first() is None:
            return False
        self._delete_with_children(subscription_id)
        return True

    def delete_expired_listeners(self, now: datetime) -> int:
        expired = select(subs.c.id).where(subs.c.listener_expires_at < now)
        ids = self._conn.execute(expired).scalars().all()
        for subscription_id in ids:
            self._delete_with_children(subscription_id)
        return len(ids)

    def _delete_with_children(self, subscription_id: str) -> None:
        # Undelivered attempts die with the subscription; past attempts stay for inspection.
        self._conn.execute(
            update(dl)
            .where(dl.c.subscription_id == subscription_id, dl.c.status == "pending")
            .values(status="disabled", next_attempt_at=None)
        )
        for table in (sub_events, secrets_t):
            self._conn.execute(delete(table).where(table.c.subscription_id == subscription_id))
        self._conn.execute(delete(subs).where(subs.c.id == subscription_id))

    def _write_children(self, subscription: Subscription) -> None:
        scope = subscription.scope
        for name in subscription.events:
            try:
                with self._conn.begin_nested():
                    self._conn.execute(
                        insert(sub_events).values(
                            subscription_id=subscription.id,
                            event_name=name,
                            account_id=scope.account_id,
                            environment=scope.environment.value,
                            listener=subscription.is_listener,
                        )
                    )
            except IntegrityError:
                raise StateConflictError(f"Another subscription already receives {name}.") from None
        for position, secret in enumerate(subscription.secrets):
            self._conn.execute(
                insert(secrets_t).values(
                    id=secret.id,
                    subscription_id=subscription.id,
                    position=position,
                    value=secret.value,
                    created_at=secret.created_at,
                    is_active=secret.is_active,
                    last_used_at=secret.last_used_at,
                )
            )

    def _load(self, row: Mapping[Any, Any]) -> Subscription:
        sub_id = row["id"]
        events = self._conn.execute(
            select(sub_events.c.event_name).where(sub_events.c.subscription_id == sub_id)
        ).scalars()
        secret_rows = self._conn.execute(
            select(secrets_t).where(secrets_t.c.subscription_id == sub_id).order_by(secrets_t.c.position)
        ).mappings()
        return Subscription(
            id=sub_id,
            scope=Scope(row["account_id"], Environment(row["environment"])),
            events=sorted(events, key=_catalogue_order),
            url=row["url"],
            description=row["description"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            disabled_at=row["disabled_at"],
            listener_expires_at=row["listener_expires_at"],
            secrets=[
                Secret(s["id"], s["value"], s["created_at"], bool(s["is_active"]), s["last_used_at"])
                for s in secret_rows
            ],
        )


def _catalogue_order(name: str) -> int:
    names = [e.value for e in EventName]
    return names.index(name) if name in names else len(names)


def _subscription_values(subscription: Subscription) -> dict[str, Any]:
    return {
        "id": subscription.id,
        "account_id": subscription.scope.account_id,
        "environment": subscription.scope.environment.value,
        "url": subscription.url,
        "description": subscription.description,
        "created_at": subscription.created_at,
        "updated_at": subscription.updated_at,
        "disabled_at": subscription.disabled_at,
        "listener_expires_at": subscription.listener_expires_at,
    }


# One pending delivery per enabled subscription of the event's scope that wants the event, as one
# INSERT … SELECT: one statement, where reading the subscriptions back first took two whenever one
# wanted the event.
_FAN_OUT = PreparedStatement(
    insert(dl).from_select(
        [
            "event_id",
            "subscription_id",
            "account_id",
            "environment",
            "status",
            "attempts",
            "next_attempt_at",
            "created_at",
        ],
        select(
            bindparam("event_id", type_=dl.c.event_id.type),
            sub_events.c.subscription_id,
            sub_events.c.account_id,
            sub_events.c.environment,
            literal("pending", dl.c.status.type),
            literal(0, dl.c.attempts.type),
            bindparam("deliver_from", type_=dl.c.next_attempt_at.type),
            bindparam("event_created_at", type_=dl.c.created_at.type),
        )
        .join(subs, subs.c.id == sub_events.c.subscription_id)
        .where(
            in_bound_scope(sub_events),
            sub_events.c.event_name == bindparam("event_name"),
            subs.c.disabled_at.is_(None),
        ),
    ),
)


def fan_out(conn: Connection, event: OutboxEvent, deliver_from: datetime | None = None) -> None:
    """One pending delivery per enabled subscription of the event's scope that wants it."""
    _FAN_OUT.run(
        conn,
        {
            **scope_params(event.scope),
            "event_name": event.name.value,
            "event_id": event.id,
            # Dispatchers run on real time, not on a sandbox account's moved clock.
            "deliver_from": deliver_from or event.created_at,
            "event_created_at": event.created_at,
        },
    )
