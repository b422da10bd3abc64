"""The sandbox's state in SQL: clock offsets, injected failures, the request log, and reset."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Connection, and_, bindparam, delete, insert, or_, select, update

from payintents.adapters.sql.prepared import PreparedStatement
from payintents.adapters.sql.schema import (
    captures,
    customer_secrets,
    customers,
    idempotency_keys,
    money_operations,
    outbox_events,
    payment_events,
    payment_intents,
    payment_methods,
    receipts,
    refunds,
    sandbox_clocks,
    sandbox_failures,
    sandbox_processor_ledger,
    sandbox_requests,
    setup_intents,
    webhook_attempts,
    webhook_deliveries,
    webhook_secrets,
    webhook_subscription_events,
    webhook_subscriptions,
)
from payintents.adapters.sql.statements import in_bound_scope, in_scope, scope_params
from payintents.domain.intent import Scope
from payintents.domain.sandbox import FailOperation, FailOutcome, InjectedFailure
from payintents.service.ports import RequestLogEntry, RequestQuery

fails = sandbox_failures
log = sandbox_requests


# Prepared once: these run on every sandbox request (see statements.SCOPE_ACCOUNT).
_CLOCK_OFFSET = select(sandbox_clocks.c.offset_us).where(
    sandbox_clocks.c.account_id == bindparam("clock_account")
)
_FAILURE_KEY = and_(
    fails.c.payment_intent_id == bindparam("failure_intent"),
    fails.c.operation == bindparam("failure_operation"),
    in_bound_scope(fails),
)
_FIND_FAILURE = PreparedStatement(select(fails.c.outcome, fails.c.delay_ms).where(_FAILURE_KEY))
_DELETE_FAILURE = delete(fails).where(_FAILURE_KEY)
_ADD_REQUEST = PreparedStatement(insert(log))


class SqlSandboxRepository:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def clock_offset(self, account_id: str) -> timedelta:
        offset_us = self._conn.execute(_CLOCK_OFFSET, {"clock_account": account_id}).scalar()
        return timedelta(microseconds=int(offset_us or 0))

    def set_clock_offset(self, account_id: str, offset: timedelta) -> None:
        self._conn.execute(delete(sandbox_clocks).where(sandbox_clocks.c.account_id == account_id))
        if offset:
            offset_us = offset // timedelta(microseconds=1)
            self._conn.execute(insert(sandbox_clocks).values(account_id=account_id, offset_us=offset_us))

    def put_failure(self, scope: Scope, intent_id: str, failure: InjectedFailure) -> None:
        self.delete_failure(scope, intent_id, failure.operation)
        self._conn.execute(
            insert(fails).values(
                payment_intent_id=intent_id,
                operation=failure.operation.value,
                account_id=scope.account_id,
                environment=scope.environment.value,
                outcome=failure.outcome.value,
                delay_ms=failure.delay_ms,
            )
        )

    def find_failure(self, scope: Scope, intent_id: str, operation: FailOperation) -> InjectedFailure | None:
        row = _FIND_FAILURE.run(self._conn, _failure_params(scope, intent_id, operation)).fetchone()
        return None if row is None else InjectedFailure(operation, FailOutcome(row[0]), row[1])

    def delete_failure(self, scope: Scope, intent_id: str, operation: FailOperation) -> None:
        self._conn.execute(_DELETE_FAILURE, _failure_params(scope, intent_id, operation))

    def add_requests(self, entries: Sequence[tuple[Scope, RequestLogEntry]]) -> None:
        # One executemany: the whole batch costs the driver, not SQLAlchemy, per row.
        _ADD_REQUEST.run_many(self._conn, [_request_row(scope, entry) for scope, entry in entries])

    def list_requests(self, scope: Scope, query: RequestQuery) -> list[RequestLogEntry]:
        stmt = select(log).where(
            log.c.account_id == scope.account_id, log.c.environment == scope.environment.value
        )
        if query.path_prefix:
            stmt = stmt.where(log.c.path.startswith(query.path_prefix, autoescape=True))
        if query.status is not None:
            stmt = stmt.where(log.c.status == query.status)
        if query.payment_intent_id:
            stmt = stmt.where(log.c.payment_intent_id == query.payment_intent_id)
        rows = self._conn.execute(stmt.order_by(log.c.id.desc()).limit(query.limit)).mappings()
        return [
            RequestLogEntry(
                r["trace_id"],
                r["at"],
                r["method"],
                r["path"],
                r["status"],
                r["duration_ms"],
                r["idempotency_key"],
                bool(r["replayed"]),
                r["payment_intent_id"],
                r["request_body"],
                r["response_body"],
            )
            for r in rows
        ]

    def reap_requests(self, older_than: datetime) -> int:
        return int(self._conn.execute(delete(log).where(log.c.at < older_than)).rowcount)

    def shift_deliveries(self, scope: Scope, step: timedelta) -> int:
        dl = webhook_deliveries
        pending = self._conn.execute(
            select(dl.c.event_id, dl.c.subscription_id, dl.c.next_attempt_at).where(
                in_scope(dl, scope), dl.c.status == "pending", dl.c.next_attempt_at.is_not(None)
            )
        ).all()
        for event_id, subscription_id, next_at in pending:
            self._conn.execute(
                update(dl)
                .where(dl.c.event_id == event_id, dl.c.subscription_id == subscription_id)
                .values(next_attempt_at=next_at - step)
            )
        return len(pending)

    def delete_everything(self, scope: Scope) -> int:
        """Children before parents, so foreign keys hold at every step."""
        intents = select(payment_intents.c.id).where(in_scope(payment_intents, scope))
        if self._conn.dialect.name == "postgresql":
            # Lock the scope's intents first: a refund or capture committing halfway through the
            # deletes would otherwise add a row that still points at an intent about to go.
            self._conn.execute(intents.with_for_update())
        subscriptions = select(webhook_subscriptions.c.id).where(in_scope(webhook_subscriptions, scope))
        events = select(outbox_events.c.id).where(in_scope(outbox_events, scope))
        statements = [
            delete(webhook_attempts).where(
                or_(
                    webhook_attempts.c.subscription_id.in_(subscriptions),
                    webhook_attempts.c.event_id.in_(events),
                )
            ),
            delete(webhook_deliveries).where(in_scope(webhook_deliveries, scope)),
            delete(webhook_secrets).where(webhook_secrets.c.subscription_id.in_(subscriptions)),
            delete(webhook_subscription_events).where(in_scope(webhook_subscription_events, scope)),
            delete(webhook_subscriptions).where(in_scope(webhook_subscriptions, scope)),
            delete(outbox_events).where(in_scope(outbox_events, scope)),
            delete(refunds).where(in_scope(refunds, scope)),
            delete(receipts).where(in_scope(receipts, scope)),
            # An operation in flight meanwhile finds its row gone and records nothing.
            delete(money_operations).where(in_scope(money_operations, scope)),
            delete(sandbox_processor_ledger).where(sandbox_processor_ledger.c.payment_intent_id.in_(intents)),
            delete(captures).where(captures.c.payment_intent_id.in_(intents)),
            delete(payment_events).where(payment_events.c.payment_intent_id.in_(intents)),
            delete(idempotency_keys).where(in_scope(idempotency_keys, scope)),
            delete(fails).where(in_scope(fails, scope)),
            delete(log).where(in_scope(log, scope)),
            delete(payment_intents).where(in_scope(payment_intents, scope)),
            delete(payment_methods).where(in_scope(payment_methods, scope)),
            delete(customer_secrets).where(in_scope(customer_secrets, scope)),
            delete(customers).where(in_scope(customers, scope)),
            delete(setup_intents).where(in_scope(setup_intents, scope)),
        ]
        removed = sum(int(self._conn.execute(statement).rowcount) for statement in statements)
        self.set_clock_offset(scope.account_id, timedelta(0))
        return removed


def _failure_params(scope: Scope, intent_id: str, operation: FailOperation) -> dict[str, str]:
    return {**scope_params(scope), "failure_intent": intent_id, "failure_operation": operation.value}


def _request_row(scope: Scope, entry: RequestLogEntry) -> dict[str, object]:
    return {
        "account_id": scope.account_id,
        "environment": scope.environment.value,
        "trace_id": entry.trace_id,
        "at": entry.at,
        "method": entry.method,
        "path": entry.path,
        "status": entry.status,
        "duration_ms": entry.duration_ms,
        "idempotency_key": entry.idempotency_key,
        "replayed": entry.replayed,
        "payment_intent_id": entry.payment_intent_id,
        "request_body": entry.request_body,
        "response_body": entry.response_body,
    }
