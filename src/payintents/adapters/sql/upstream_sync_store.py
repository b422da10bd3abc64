"""The mirror's refresh paths in SQL (ADR 0033): the gateway's webhook subscriptions at Dojo (their
secrets sealed, never in clear) and when each mirrored intent was last compared with Dojo."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, delete, insert, or_, select, update

from payintents.adapters.sql.schema import (
    account_upstreams,
    mirror_checks,
    payment_intents,
    upstream_webhooks,
)
from payintents.adapters.sql.statements import insert_ignore
from payintents.domain.intent import Environment, Status
from payintents.service.upstream_ports import SealedSecret
from payintents.service.upstream_sync_ports import MirrorToCheck, StoredSubscription

PRODUCTION = Environment.PRODUCTION.value

# How long after its expiry a mirror still Created here is still polled (see _open).
EXPIRED_STILL_POLLED = timedelta(days=1)


class SqlUpstreamWebhookRepository:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def get(self, account_id: str) -> StoredSubscription | None:
        row = self._conn.execute(
            select(upstream_webhooks).where(upstream_webhooks.c.account_id == account_id)
        ).first()
        return None if row is None else _subscription(row._mapping)

    def put(self, subscription: StoredSubscription) -> None:
        self.delete(subscription.account_id)
        self._conn.execute(
            insert(upstream_webhooks).values(
                account_id=subscription.account_id,
                subscription_id=subscription.subscription_id,
                url=subscription.url,
                key_id=subscription.sealed_secret.key_id,
                sealed_secret=subscription.sealed_secret.ciphertext,
                created_at=subscription.created_at,
            )
        )

    def delete(self, account_id: str) -> bool:
        done = self._conn.execute(
            delete(upstream_webhooks).where(upstream_webhooks.c.account_id == account_id)
        )
        return bool(done.rowcount)

    def list(self) -> list[StoredSubscription]:
        rows = self._conn.execute(select(upstream_webhooks).order_by(upstream_webhooks.c.account_id))
        return [_subscription(row._mapping) for row in rows]


def _subscription(row: Any) -> StoredSubscription:
    return StoredSubscription(
        account_id=row["account_id"],
        subscription_id=row["subscription_id"],
        url=row["url"],
        sealed_secret=SealedSecret(row["key_id"], row["sealed_secret"]),
        created_at=row["created_at"],
    )


class SqlMirrorCheckRepository:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def checked_at(self, intent_id: str) -> datetime | None:
        found = self._conn.execute(
            select(mirror_checks.c.checked_at).where(mirror_checks.c.intent_id == intent_id)
        ).scalar_one_or_none()
        return found if isinstance(found, datetime) else None

    def mark(self, account_id: str, intent_id: str, now: datetime) -> None:
        done = self._conn.execute(
            update(mirror_checks).where(mirror_checks.c.intent_id == intent_id).values(checked_at=now)
        )
        if not done.rowcount:
            # Two processes marking one intent at once: either time will do.
            values = {"intent_id": intent_id, "account_id": account_id, "checked_at": now}
            self._conn.execute(insert_ignore(self._conn, mirror_checks, values))

    def due(self, now: datetime, checked_before: datetime, limit: int) -> list[MirrorToCheck]:
        pi, checks = payment_intents, mirror_checks
        query = (
            select(pi.c.account_id, pi.c.id)
            .select_from(
                pi.join(account_upstreams, account_upstreams.c.account_id == pi.c.account_id).outerjoin(
                    checks, checks.c.intent_id == pi.c.id
                )
            )
            .where(
                pi.c.environment == PRODUCTION,
                _open(pi, now),
                or_(checks.c.checked_at.is_(None), checks.c.checked_at < checked_before),
            )
            # Never compared first, then the least recently compared.
            .order_by(checks.c.checked_at.is_not(None), checks.c.checked_at, pi.c.id)
            .limit(limit)
        )
        return [MirrorToCheck(row.account_id, row.id) for row in self._conn.execute(query)]

    def to_compare(self, account_id: str, since: datetime, limit: int) -> list[str]:
        pi = payment_intents
        still_open = pi.c.status.in_([Status.CREATED.value, Status.AUTHORIZED.value])
        query = (
            select(pi.c.id)
            .where(
                pi.c.account_id == account_id,
                pi.c.environment == PRODUCTION,
                or_(still_open, pi.c.created_at >= since, pi.c.updated_at >= since),
            )
            .order_by(pi.c.created_at.desc(), pi.c.id.desc())
            .limit(limit)
        )
        return [str(intent_id) for intent_id in self._conn.execute(query).scalars()]


def _open(pi: Any, now: datetime) -> Any:
    """Created and not long past its expiry, or Authorized: Dojo may still move it on. A mirror
    never expires by itself (Dojo owns its expiry), so one just past it is still asked about,
    to learn what Dojo did at expiry; the window bounds how long one Dojo keeps is asked."""
    created = and_(pi.c.status == Status.CREATED.value, pi.c.expire_at > now - EXPIRED_STILL_POLLED)
    return or_(created, pi.c.status == Status.AUTHORIZED.value)
