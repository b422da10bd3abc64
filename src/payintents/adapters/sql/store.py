"""The SQL unit of work and the small repositories (refunds, idempotency keys, outbox, accounts).

One ``SqlUnitOfWork`` is one database transaction. Database failures that mean "busy" become
StoreBusyError; a CHECK constraint firing means an invariant broke and becomes
InvariantViolationError. Neither ever reaches a client as SQL text.
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from datetime import datetime
from functools import cache
from types import TracebackType
from typing import Self

from sqlalchemy import (
    Connection,
    Engine,
    Transaction,
    and_,
    bindparam,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from payintents.adapters.sql.account_store import SqlAccountRepository
from payintents.adapters.sql.dashboard_store import SqlDashboardRepository
from payintents.adapters.sql.delivery_store import SqlDeliveryRepository
from payintents.adapters.sql.engine import read_only_options
from payintents.adapters.sql.intent_store import SqlIntentRepository
from payintents.adapters.sql.operation_store import SqlMoneyOperationRepository, SqlProcessorLedgerRepository
from payintents.adapters.sql.prepared import PreparedStatement, run_driver_sql
from payintents.adapters.sql.sandbox_store import SqlSandboxRepository
from payintents.adapters.sql.schema import (
    idempotency_keys,
    outbox_events,
    refunds,
)
from payintents.adapters.sql.statements import in_bound_scope, prepared_insert_ignore, scope_params
from payintents.adapters.sql.webhook_store import SqlWebhookRepository, fan_out
from payintents.adapters.sql.write_gate import WriteGate, WriteGateTimeoutError
from payintents.domain.errors import InvariantViolationError
from payintents.domain.events import OutboxEvent
from payintents.domain.idempotency import IdempotencyRecord, StoredResponse
from payintents.domain.intent import Environment, Scope
from payintents.domain.refund import Refund
from payintents.service.ports import StoreBusyError

ik = idempotency_keys


# The intent's row is locked by the refund's guarded UPDATE, so MAX is stable here.
_NEXT_REFUND_POSITION = select(func.coalesce(func.max(refunds.c.position) + 1, 0)).where(
    refunds.c.payment_intent_id == bindparam("position_of")
)
ADD_REFUND = PreparedStatement(refunds.insert().values(position=_NEXT_REFUND_POSITION.scalar_subquery()))


class SqlRefundRepository:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def add(self, refund: Refund) -> None:
        ADD_REFUND.run(
            self._conn,
            {
                "id": refund.id,
                "account_id": refund.scope.account_id,
                "environment": refund.scope.environment.value,
                "payment_intent_id": refund.payment_intent_id,
                "position_of": refund.payment_intent_id,
                "amount": refund.amount,
                "refund_reason": refund.refund_reason,
                "notes": refund.notes,
                "previous_transaction_id": refund.previous_transaction_id,
                "created_at": refund.created_at,
            },
        )

    def get(self, scope: Scope, refund_id: str) -> Refund | None:
        row = (
            self._conn.execute(
                select(refunds).where(
                    refunds.c.id == refund_id,
                    refunds.c.account_id == scope.account_id,
                    refunds.c.environment == scope.environment.value,
                )
            )
            .mappings()
            .first()
        )
        return None if row is None else _refund(row)

    def list_for_intent(self, scope: Scope, intent_id: str) -> list[Refund]:
        rows = self._conn.execute(
            select(refunds)
            .where(
                refunds.c.account_id == scope.account_id,
                refunds.c.environment == scope.environment.value,
                refunds.c.payment_intent_id == intent_id,
            )
            .order_by(refunds.c.position)
        ).mappings()
        return [_refund(row) for row in rows]


def _refund(row: object) -> Refund:
    r = dict(row)  # type: ignore[call-overload]
    return Refund(
        id=r["id"],
        scope=Scope(r["account_id"], Environment(r["environment"])),
        payment_intent_id=r["payment_intent_id"],
        amount=r["amount"],
        refund_reason=r["refund_reason"],
        notes=r["notes"],
        previous_transaction_id=r["previous_transaction_id"],
        created_at=r["created_at"],
    )


class SqlIdempotencyRepository:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def claim(
        self, scope: Scope, target: str, key: str, fingerprint: str, now: datetime
    ) -> IdempotencyRecord | None:
        values = {
            "account_id": scope.account_id,
            "environment": scope.environment.value,
            "target": target,
            "idempotency_key": key,
            "fingerprint": fingerprint,
            "created_at": now,
        }
        # ON CONFLICT DO NOTHING RETURNING: a row back means the key is new. On PostgreSQL a
        # concurrent holder of the same key makes this wait until it commits or rolls back, so
        # the row read below is always a finished answer.
        if _claim_key(self._conn.dialect.name).run(self._conn, values).fetchone() is not None:
            return None
        row = FIND_KEY_RECORD.run(self._conn, _key_params(scope, target, key)).fetchone()
        if row is None:
            raise InvariantViolationError("idempotency key vanished between insert and read")
        fingerprint_stored, status, body = row
        response = None if status is None else StoredResponse(status, bytes(body))
        return IdempotencyRecord(fingerprint_stored, response)

    def complete(self, scope: Scope, target: str, key: str, response: StoredResponse) -> None:
        params = _key_params(scope, target, key)
        COMPLETE_KEY.run(
            self._conn, {**params, "answer_status": response.status_code, "answer_body": response.body}
        )

    def release(self, scope: Scope, target: str, key: str) -> None:
        self._conn.execute(delete(ik).where(_KEY_ROW), _key_params(scope, target, key))

    def reap(self, older_than: datetime, scope: Scope | None = None) -> int:
        stmt = delete(ik).where(ik.c.created_at < older_than)
        if scope is not None:
            stmt = stmt.where(
                ik.c.account_id == scope.account_id, ik.c.environment == scope.environment.value
            )
        return int(self._conn.execute(stmt).rowcount)


_KEY_ROW = and_(
    in_bound_scope(ik), ik.c.target == bindparam("key_target"), ik.c.idempotency_key == bindparam("key_value")
)
FIND_KEY_RECORD = PreparedStatement(
    select(ik.c.fingerprint, ik.c.status_code, ik.c.response_body).where(_KEY_ROW)
)
COMPLETE_KEY = PreparedStatement(
    update(ik)
    .where(_KEY_ROW)
    .values(status_code=bindparam("answer_status"), response_body=bindparam("answer_body")),
)


@cache
def _claim_key(dialect_name: str) -> PreparedStatement:
    return PreparedStatement(prepared_insert_ignore(dialect_name, ik).returning(ik.c.target))


def _key_params(scope: Scope, target: str, key: str) -> dict[str, str]:
    return {**scope_params(scope), "key_target": target, "key_value": key}


ADD_EVENT = PreparedStatement(outbox_events.insert())


class SqlOutboxRepository:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def add(self, event: OutboxEvent, deliver_from: datetime | None = None) -> None:
        ADD_EVENT.run(
            self._conn,
            {
                "id": event.id,
                "account_id": event.scope.account_id,
                "environment": event.scope.environment.value,
                "name": event.name.value,
                "payment_intent_id": event.payment_intent_id,
                "created_at": event.created_at,
                "payload": json.dumps(event.data, separators=(",", ":")),
            },
        )
        fan_out(self._conn, event, deliver_from)


class SqlUnitOfWork:
    """One transaction of its own (SQLite: behind the write gate ``gate``, when given), or, with
    ``within``, one savepoint of a transaction its caller holds (the SQLite writer's batch)."""

    intents: SqlIntentRepository
    refunds: SqlRefundRepository
    idempotency: SqlIdempotencyRepository
    operations: SqlMoneyOperationRepository
    processor_ledger: SqlProcessorLedgerRepository
    outbox: SqlOutboxRepository
    accounts: SqlAccountRepository
    webhooks: SqlWebhookRepository
    deliveries: SqlDeliveryRepository
    dashboard: SqlDashboardRepository
    sandbox: SqlSandboxRepository

    def __init__(
        self,
        engine: Engine,
        *,
        read_only: bool = False,
        gate: WriteGate | None = None,
        within: Savepoint | None = None,
    ) -> None:
        self._engine = engine
        self._read_only = read_only
        self._gate = gate
        self._held = ExitStack()
        self._within = within
        self._tx: Transaction | Savepoint

    def __enter__(self) -> Self:
        try:
            self._open()
        except BaseException as exc:
            # Whatever went wrong, the write gate must not stay closed behind us.
            self._held.close()
            if isinstance(exc, OperationalError | PoolTimeoutError | WriteGateTimeoutError):
                # PoolTimeoutError: every pooled connection is busy for longer than the lock timeout.
                raise StoreBusyError("the database is busy or unreachable") from exc
            raise
        self.intents = SqlIntentRepository(self._conn)
        self.refunds = SqlRefundRepository(self._conn)
        self.idempotency = SqlIdempotencyRepository(self._conn)
        self.operations = SqlMoneyOperationRepository(self._conn)
        self.processor_ledger = SqlProcessorLedgerRepository(self._conn)
        self.outbox = SqlOutboxRepository(self._conn)
        self.accounts = SqlAccountRepository(self._conn)
        self.webhooks = SqlWebhookRepository(self._conn)
        self.deliveries = SqlDeliveryRepository(self._conn)
        self.dashboard = SqlDashboardRepository(self._conn)
        self.sandbox = SqlSandboxRepository(self._conn)
        return self

    def _open(self) -> None:
        if self._within is not None:
            self._conn = self._within.connection
            self._tx = self._within.begin()
            return
        if self._gate is not None and not self._read_only:
            # SQLite: wait for our turn to write before taking a pooled connection.
            self._held.enter_context(self._gate.held())
        self._conn = self._held.enter_context(self._engine.connect())
        if self._read_only:
            self._conn = self._conn.execution_options(**read_only_options(self._conn))
        self._tx = self._conn.begin()

    @property
    def connection(self) -> Connection:
        """The connection this unit's transaction (or savepoint) runs on."""
        return self._conn

    def commit(self) -> None:
        try:
            self._tx.commit()
        except OperationalError as exc:
            raise StoreBusyError("the database could not commit in time") from exc

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        rollback_failure: DBAPIError | None = None
        try:
            if self._tx.is_active:
                self._tx.rollback()
        except DBAPIError as failure:
            # The connection died under us (e.g. the database restarted): nothing was committed.
            rollback_failure = failure
        finally:
            # The caller's connection and gate (``within``) outlive this unit; ours close here.
            self._held.close()
        if exc is not None and not isinstance(exc, Exception):
            # A cancelled request (or an interrupt) stays cancelled, whatever the rollback did.
            return
        # Raising here replaces the database exception with the port's own error type.
        if isinstance(exc, OperationalError):
            raise StoreBusyError("the database is busy; retry shortly") from exc
        if isinstance(exc, IntegrityError):
            raise InvariantViolationError("a store constraint refused the write") from exc
        if rollback_failure is not None:
            raise StoreBusyError("the database connection was lost; retry shortly") from rollback_failure


class Savepoint:
    """Savepoints in a transaction the caller holds on ``connection``, one per unit of work, sent
    to the driver directly: SQLAlchemy's ``begin_nested`` and its commit cost ~150 µs a unit,
    50 times the two statements themselves."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._opened = 0
        self._name = ""
        self.is_active = False

    def begin(self) -> Savepoint:
        self._opened += 1
        self._name = f"unit_{self._opened}"
        run_driver_sql(self.connection, f"SAVEPOINT {self._name}")
        self.is_active = True
        return self

    def commit(self) -> None:
        self.is_active = False
        run_driver_sql(self.connection, f"RELEASE {self._name}")

    def transaction_open(self) -> bool:
        """False once SQLite has ended the surrounding transaction by itself (some errors roll
        it back whole), after which a statement would run outside it."""
        try:
            return bool(getattr(self.connection.connection.driver_connection, "in_transaction", False))
        except Exception:
            return False  # the connection itself is gone

    def rollback(self) -> None:
        self.is_active = False
        run_driver_sql(self.connection, f"ROLLBACK TO {self._name}")
        run_driver_sql(self.connection, f"RELEASE {self._name}")
