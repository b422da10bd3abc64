"""The webhook delivery queue: claiming due deliveries under a lease, recording attempts."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, func, or_, select, update

from payintents.adapters.sql.schema import (
    outbox_events,
    webhook_attempts,
    webhook_deliveries,
    webhook_secrets,
    webhook_subscriptions,
)
from payintents.domain.events import EventName, OutboxEvent
from payintents.domain.intent import Environment, Scope
from payintents.service.ports import AttemptRecord, DeliveryJob, DeliveryView, SubscriptionRoom

dl = webhook_deliveries
ev = outbox_events
att = webhook_attempts


def _due(now: datetime, passing_over: Sequence[str] = ()) -> ColumnElement[bool]:
    """A delivery waiting for its next attempt, whose time has come, that nobody leases and whose
    subscription the claim is not passing over."""
    due = and_(
        dl.c.status == "pending",
        dl.c.next_attempt_at <= now,
        or_(dl.c.leased_until.is_(None), dl.c.leased_until < now),
    )
    return and_(due, dl.c.subscription_id.not_in(passing_over)) if passing_over else due


class SqlDeliveryRepository:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def any_due(self, now: datetime, passing_over: Sequence[str] = ()) -> bool:
        query = select(dl.c.event_id).where(_due(now, passing_over)).limit(1)
        return self._conn.execute(query).first() is not None

    def claim_due(
        self,
        now: datetime,
        owner: str,
        lease_until: datetime,
        limit: int,
        room: SubscriptionRoom | None = None,
    ) -> list[DeliveryJob]:
        due = (
            select(dl.c.event_id, dl.c.subscription_id)
            .where(_due(now, room.full() if room else ()))
            .order_by(dl.c.next_attempt_at)
            .limit(limit)
        )
        if self._conn.dialect.name == "postgresql":
            due = due.with_for_update(skip_locked=True)
        taken: Counter[str] = Counter()
        jobs = []
        for event_id, subscription_id in self._conn.execute(due).all():
            # A subscription with many due deliveries fills only its own room; the rest of the
            # oldest are left for the next claim, by then passing over that subscription.
            if room is not None and taken[subscription_id] >= room.of(subscription_id):
                continue
            if self._lease(event_id, subscription_id, now, owner, lease_until):
                taken[subscription_id] += 1
                if (job := self._job(event_id, subscription_id)) is not None:
                    jobs.append(job)
        return jobs

    def _lease(self, event_id: str, subscription_id: str, now: datetime, owner: str, until: datetime) -> bool:
        result = self._conn.execute(
            update(dl)
            .where(
                dl.c.event_id == event_id,
                dl.c.subscription_id == subscription_id,
                or_(dl.c.leased_until.is_(None), dl.c.leased_until < now),
            )
            .values(lease_owner=owner, leased_until=until)
        )
        return result.rowcount == 1

    def _job(self, event_id: str, subscription_id: str) -> DeliveryJob | None:
        row = self._conn.execute(
            select(
                ev,
                dl.c.attempts,
                webhook_subscriptions.c.url.label("url"),
                webhook_secrets.c.id.label("secret_id"),
                webhook_secrets.c.value.label("secret_value"),
            )
            .select_from(
                dl.join(ev, ev.c.id == dl.c.event_id)
                .join(webhook_subscriptions, webhook_subscriptions.c.id == dl.c.subscription_id)
                .join(
                    webhook_secrets,
                    and_(
                        webhook_secrets.c.subscription_id == dl.c.subscription_id,
                        webhook_secrets.c.is_active.is_(True),
                    ),
                )
            )
            .where(dl.c.event_id == event_id, dl.c.subscription_id == subscription_id)
        ).first()
        if row is None:
            return None
        values = row._mapping
        return DeliveryJob(
            _event(values),
            subscription_id,
            values["url"],
            values["secret_id"],
            values["secret_value"],
            values["attempts"],
        )

    def record_attempt(
        self, job: DeliveryJob, owner: str, record: AttemptRecord, outcome: str, now: datetime
    ) -> bool:
        key = and_(dl.c.event_id == job.event.id, dl.c.subscription_id == job.subscription_id)
        status = {"delivered": "delivered", "retry": "pending", "failed": "failed"}.get(outcome, "disabled")
        result = self._conn.execute(
            update(dl)
            .where(key, dl.c.lease_owner == owner, dl.c.status == "pending")
            .values(
                status=status,
                attempts=dl.c.attempts + 1,
                next_attempt_at=record.next_attempt_at if outcome == "retry" else None,
                last_status_code=record.status_code,
                leased_until=None,
                lease_owner=None,
                delivered_at=now if outcome == "delivered" else None,
            )
        )
        if result.rowcount != 1:
            return False
        self._conn.execute(
            att.insert().values(
                event_id=job.event.id,
                subscription_id=job.subscription_id,
                attempt=record.attempt,
                attempted_at=record.attempted_at,
                status_code=record.status_code,
                duration_ms=record.duration_ms,
                error=record.error[:500] if record.error else None,
                next_attempt_at=record.next_attempt_at,
            )
        )
        if outcome == "delivered":
            self._conn.execute(
                update(webhook_secrets).where(webhook_secrets.c.id == job.secret_id).values(last_used_at=now)
            )
        if outcome == "disabled":
            self._disable(job.subscription_id, now)
        return True

    def _disable(self, subscription_id: str, now: datetime) -> None:
        """410 Gone: the receiver asked never to be called again."""
        self._conn.execute(
            update(webhook_subscriptions)
            .where(webhook_subscriptions.c.id == subscription_id)
            .values(disabled_at=now, updated_at=now)
        )
        self._conn.execute(
            update(dl)
            .where(dl.c.subscription_id == subscription_id, dl.c.status == "pending")
            .values(status="disabled", next_attempt_at=None, leased_until=None, lease_owner=None)
        )

    def list_for_subscription(self, scope: Scope, subscription_id: str, limit: int) -> list[DeliveryView]:
        rows = self._conn.execute(
            select(dl.c.event_id, ev.c.name, dl.c.status, dl.c.next_attempt_at)
            .select_from(dl.join(ev, ev.c.id == dl.c.event_id))
            .where(
                dl.c.account_id == scope.account_id,
                dl.c.environment == scope.environment.value,
                dl.c.subscription_id == subscription_id,
            )
            .order_by(dl.c.created_at.desc(), dl.c.event_id.desc())
            .limit(limit)
        ).all()
        return [
            DeliveryView(event_id, name, status, next_at, self._attempts(event_id, subscription_id))
            for event_id, name, status, next_at in rows
        ]

    def _attempts(self, event_id: str, subscription_id: str) -> list[AttemptRecord]:
        rows = self._conn.execute(
            select(att)
            .where(att.c.event_id == event_id, att.c.subscription_id == subscription_id)
            .order_by(att.c.attempt)
        ).mappings()
        return [
            AttemptRecord(
                r["attempt"],
                r["attempted_at"],
                r["status_code"],
                r["duration_ms"],
                r["error"],
                r["next_attempt_at"],
            )
            for r in rows
        ]

    def retry_event(self, scope: Scope, event_id: str, now: datetime) -> int:
        in_scope = and_(
            dl.c.event_id == event_id,
            dl.c.account_id == scope.account_id,
            dl.c.environment == scope.environment.value,
        )
        enabled = select(webhook_subscriptions.c.id).where(webhook_subscriptions.c.disabled_at.is_(None))
        result = self._conn.execute(
            update(dl)
            .where(
                in_scope,
                dl.c.subscription_id.in_(enabled),
                # "disabled" too: a 410 stopped it, and a PATCH has since re-enabled the subscription
                # (deleted and still-disabled subscriptions are not in ``enabled``).
                dl.c.status.in_(("pending", "failed", "delivered", "disabled")),
            )
            # Due in real time (dispatchers' time), whatever the sandbox account's clock says.
            # The lease is left alone: a dispatcher sending this delivery right now keeps it, so no
            # second dispatcher can send it at the same time.
            .values(status="pending", next_attempt_at=now)
        )
        return int(result.rowcount)

    def count_pending(self) -> int:
        query = select(func.count()).select_from(dl).where(dl.c.status == "pending")
        return int(self._conn.execute(query).scalar_one())


def _event(row: Any) -> OutboxEvent:
    return OutboxEvent(
        id=row["id"],
        scope=Scope(row["account_id"], Environment(row["environment"])),
        name=EventName(row["name"]),
        payment_intent_id=row["payment_intent_id"],
        created_at=row["created_at"],
        data=json.loads(row["payload"]),
    )
