"""What the merchant dashboard reads and writes: the payment list and its totals, webhook deliveries,
dashboard users and server-side sessions (ended by expiry, idleness, sign-out, or their user's or
key's removal), and who asked for each dashboard refund.

The tables live on the shared ``metadata`` (so migrations and the schema check see them); the
indexes the list needs lead with the account, like every other per-account index.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Select,
    and_,
    delete,
    func,
    or_,
    select,
    tuple_,
    update,
)

from payintents.adapters.sql.schema import (
    dashboard_refund_log,
    dashboard_sessions,
    dashboard_users,
    outbox_events,
    payment_intents,
    refunds,
    webhook_deliveries,
)
from payintents.adapters.sql.statements import insert_ignore, intent_position
from payintents.domain.intent import CaptureMode, Environment, Scope, Status
from payintents.service.dashboard_ports import (
    CurrencyTotals,
    DashboardSession,
    DashboardUser,
    DeliverySummary,
    PaymentFilter,
    PaymentSummary,
    PaymentSummaryPage,
)

pi = payment_intents
dl = webhook_deliveries
ev = outbox_events

_SUMMARY_COLUMNS = (
    pi.c.id,
    pi.c.status,
    pi.c.capture_mode,
    pi.c.currency,
    pi.c.total_amount,
    pi.c.refundable_amount,
    pi.c.refunded_amount,
    pi.c.reference,
    pi.c.created_at,
)


class SqlDashboardRepository:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def list_payments(
        self,
        scope: Scope,
        payment_filter: PaymentFilter,
        limit: int,
        after: tuple[datetime, str] | None = None,
        before: tuple[datetime, str] | None = None,
    ) -> PaymentSummaryPage:
        position = tuple_(pi.c.created_at, pi.c.id)
        stmt = _filtered(select(*_SUMMARY_COLUMNS), scope, payment_filter)
        if after is not None:
            stmt = stmt.where(position < intent_position(after))
        if before is not None:
            stmt = stmt.where(position > intent_position(before))
        newest_first = before is None
        order = (pi.c.created_at.desc(), pi.c.id.desc()) if newest_first else (pi.c.created_at, pi.c.id)
        rows = self._conn.execute(stmt.order_by(*order).limit(limit + 1)).mappings().all()
        summaries = [_summary(row) for row in rows[:limit]]
        if not newest_first:
            summaries.reverse()
        return PaymentSummaryPage(summaries, has_more=len(rows) > limit)

    def payment_totals(self, scope: Scope, payment_filter: PaymentFilter) -> list[CurrencyTotals]:
        stmt = _filtered(
            select(
                pi.c.currency,
                func.count(),
                func.sum(pi.c.total_amount),
                func.sum(pi.c.refundable_amount),
                func.sum(pi.c.refunded_amount),
            ),
            scope,
            payment_filter,
        )
        rows = self._conn.execute(stmt.group_by(pi.c.currency).order_by(pi.c.currency)).all()
        return [CurrencyTotals(str(c), int(n), int(a), int(cap), int(ref)) for c, n, a, cap, ref in rows]

    def deliveries(self, scope: Scope, intent_id: str | None, limit: int) -> list[DeliverySummary]:
        if intent_id is None:
            where = and_(dl.c.account_id == scope.account_id, dl.c.environment == scope.environment.value)
        else:
            where = and_(
                ev.c.account_id == scope.account_id,
                ev.c.environment == scope.environment.value,
                ev.c.payment_intent_id == intent_id,
            )
        rows = self._conn.execute(
            select(
                dl.c.event_id,
                ev.c.name,
                ev.c.payment_intent_id,
                dl.c.subscription_id,
                dl.c.status,
                dl.c.attempts,
                dl.c.last_status_code,
                dl.c.next_attempt_at,
                dl.c.created_at,
                dl.c.delivered_at,
            )
            .select_from(dl.join(ev, ev.c.id == dl.c.event_id))
            .where(where)
            .order_by(dl.c.created_at.desc(), dl.c.event_id.desc(), dl.c.subscription_id)
            .limit(limit)
        ).all()
        return [
            DeliverySummary(
                event_id=row.event_id,
                event_name=row.name,
                payment_intent_id=row.payment_intent_id,
                subscription_id=row.subscription_id,
                status=row.status,
                attempts=row.attempts,
                last_status_code=row.last_status_code,
                next_attempt_at=row.next_attempt_at,
                created_at=row.created_at,
                delivered_at=row.delivered_at,
            )
            for row in rows
        ]

    def add_refund_actor(self, scope: Scope, refund_id: str, actor: str, now: datetime) -> None:
        in_scope = self._conn.execute(
            select(refunds.c.id).where(
                refunds.c.id == refund_id,
                refunds.c.account_id == scope.account_id,
                refunds.c.environment == scope.environment.value,
            )
        ).first()
        if in_scope is None:
            return
        values = {
            "refund_id": refund_id,
            "account_id": scope.account_id,
            "environment": scope.environment.value,
            "actor": actor[:100],
            "created_at": now,
        }
        self._conn.execute(insert_ignore(self._conn, dashboard_refund_log, values))

    def refund_actors(self, scope: Scope, intent_id: str) -> dict[str, str]:
        log = dashboard_refund_log
        rows = self._conn.execute(
            select(log.c.refund_id, log.c.actor)
            .select_from(log.join(refunds, refunds.c.id == log.c.refund_id))
            .where(
                refunds.c.account_id == scope.account_id,
                refunds.c.environment == scope.environment.value,
                refunds.c.payment_intent_id == intent_id,
            )
        ).all()
        return {refund_id: actor for refund_id, actor in rows}

    def add_user(self, user: DashboardUser) -> bool:
        values = {
            "id": user.id,
            "account_id": user.account_id,
            "username": user.username,
            "password_hash": user.password_hash,
            "created_at": user.created_at,
        }
        stmt = insert_ignore(self._conn, dashboard_users, values).returning(dashboard_users.c.id)
        return self._conn.execute(stmt).first() is not None

    def find_user(self, username: str) -> DashboardUser | None:
        u = dashboard_users
        row = self._conn.execute(
            select(u.c.id, u.c.account_id, u.c.username, u.c.password_hash, u.c.created_at).where(
                u.c.username == username
            )
        ).first()
        return None if row is None else DashboardUser(*row)

    def list_users(self, account_id: str | None) -> list[DashboardUser]:
        u = dashboard_users
        stmt = select(u.c.id, u.c.account_id, u.c.username, u.c.password_hash, u.c.created_at)
        if account_id is not None:
            stmt = stmt.where(u.c.account_id == account_id)
        return [DashboardUser(*row) for row in self._conn.execute(stmt.order_by(u.c.username)).all()]

    def set_password_hash(self, username: str, password_hash: str) -> bool:
        u = dashboard_users
        done = self._conn.execute(
            update(u).where(u.c.username == username).values(password_hash=password_hash)
        )
        return int(done.rowcount) == 1

    def delete_user(self, username: str) -> bool:
        u = dashboard_users
        return int(self._conn.execute(delete(u).where(u.c.username == username)).rowcount) == 1

    def has_payments(self, scope: Scope) -> bool:
        # ix_intents_account_created answers it from its first entry.
        found = self._conn.execute(
            select(pi.c.id)
            .where(pi.c.account_id == scope.account_id, pi.c.environment == scope.environment.value)
            .limit(1)
        ).first()
        return found is not None

    def add_session(self, session: DashboardSession) -> None:
        self._conn.execute(
            dashboard_sessions.insert().values(
                token_hash=session.token_hash,
                account_id=session.account_id,
                environment=session.environment.value,
                csrf_token=session.csrf_token,
                username=session.username,
                api_key_id=session.api_key_id,
                created_at=session.created_at,
                expires_at=session.expires_at,
                last_seen_at=session.last_seen_at,
            )
        )

    def find_session(self, token_hash: str, now: datetime) -> DashboardSession | None:
        s = dashboard_sessions
        row = (
            self._conn.execute(select(s).where(s.c.token_hash == token_hash, s.c.expires_at > now))
            .mappings()
            .first()
        )
        if row is None:
            return None
        return DashboardSession(
            token_hash=row["token_hash"],
            account_id=row["account_id"],
            environment=Environment(row["environment"]),
            csrf_token=row["csrf_token"],
            username=row["username"],
            created_at=row["created_at"],
            expires_at=row["expires_at"],
            last_seen_at=row["last_seen_at"],
            api_key_id=row["api_key_id"],
        )

    def touch_session(self, token_hash: str, now: datetime) -> None:
        s = dashboard_sessions
        self._conn.execute(update(s).where(s.c.token_hash == token_hash).values(last_seen_at=now))

    def set_session_environment(self, token_hash: str, environment: Environment) -> None:
        s = dashboard_sessions
        self._conn.execute(
            update(s).where(s.c.token_hash == token_hash).values(environment=environment.value)
        )

    def delete_session(self, token_hash: str) -> None:
        s = dashboard_sessions
        self._conn.execute(delete(s).where(s.c.token_hash == token_hash))

    def end_user_sessions(self, username: str) -> int:
        s = dashboard_sessions
        return int(self._conn.execute(delete(s).where(s.c.username == username)).rowcount)

    def end_key_sessions(self, api_key_id: str) -> int:
        s = dashboard_sessions
        return int(self._conn.execute(delete(s).where(s.c.api_key_id == api_key_id)).rowcount)

    def reap_sessions(self, now: datetime, idle_since: datetime) -> int:
        s = dashboard_sessions
        over = or_(s.c.expires_at <= now, s.c.last_seen_at <= idle_since)
        return int(self._conn.execute(delete(s).where(over)).rowcount)


def _filtered(stmt: Select[Any], scope: Scope, f: PaymentFilter) -> Select[Any]:
    stmt = stmt.where(pi.c.account_id == scope.account_id, pi.c.environment == scope.environment.value)
    if f.text:
        pattern = "%" + _escape_like(f.text.lower()) + "%"
        stmt = stmt.where(or_(pi.c.id == f.text, func.lower(pi.c.reference).like(pattern, escape="\\")))
    if f.statuses:
        stmt = stmt.where(pi.c.status.in_(sorted(s.value for s in f.statuses)))
    if f.created_from is not None:
        stmt = stmt.where(pi.c.created_at >= f.created_from)
    if f.created_before is not None:
        stmt = stmt.where(pi.c.created_at < f.created_before)
    if f.amount_min is not None:
        stmt = stmt.where(pi.c.total_amount >= f.amount_min)
    if f.amount_max is not None:
        stmt = stmt.where(pi.c.total_amount <= f.amount_max)
    return stmt


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _summary(row: Mapping[Any, Any]) -> PaymentSummary:
    return PaymentSummary(
        id=row["id"],
        status=Status(row["status"]),
        capture_mode=CaptureMode(row["capture_mode"]),
        currency=row["currency"],
        total_amount=row["total_amount"],
        refundable_amount=row["refundable_amount"],
        refunded_amount=row["refunded_amount"],
        reference=row["reference"],
        created_at=row["created_at"],
    )
