"""The SQL unit of work: one database transaction and the repositories that share it.

A transaction that need not reach the disk by itself (``TransactionRunner.write(durable=False)``,
ADR 0030) commits without its own flush: PostgreSQL with ``synchronous_commit`` off for that
transaction, SQLite with ``synchronous=NORMAL`` for it (its write-ahead log is then synced at the
next FULL commit or checkpoint). Both logs keep their order, so a later durable commit carries it.

Database failures that mean "busy" become StoreBusyError; a CHECK constraint firing means an
invariant broke and becomes InvariantViolationError. Neither ever reaches a client as SQL text.
"""

from __future__ import annotations

from contextlib import ExitStack
from types import TracebackType
from typing import Self

from sqlalchemy import (
    Connection,
    Engine,
    Transaction,
)
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from payintents.adapters.sql.account_store import SqlAccountRepository
from payintents.adapters.sql.customer_store import SqlCustomerRepository, SqlPaymentMethodRepository
from payintents.adapters.sql.dashboard_store import SqlDashboardRepository
from payintents.adapters.sql.delivery_store import SqlDeliveryRepository
from payintents.adapters.sql.engine import SQLITE_SYNCHRONOUS, read_only_options
from payintents.adapters.sql.idempotency_store import SqlIdempotencyRepository
from payintents.adapters.sql.intent_store import SqlIntentRepository
from payintents.adapters.sql.operation_store import SqlMoneyOperationRepository, SqlProcessorLedgerRepository
from payintents.adapters.sql.outbox_store import SqlOutboxRepository
from payintents.adapters.sql.prepared import run_driver_sql
from payintents.adapters.sql.receipt_store import SqlReceiptRepository
from payintents.adapters.sql.refund_store import SqlRefundRepository
from payintents.adapters.sql.sandbox_store import SqlSandboxRepository
from payintents.adapters.sql.setup_intent_store import SqlSetupIntentRepository
from payintents.adapters.sql.terminal_store import SqlTerminalRepository
from payintents.adapters.sql.upstream_store import SqlUpstreamRepository
from payintents.adapters.sql.upstream_sync_store import SqlMirrorCheckRepository, SqlUpstreamWebhookRepository
from payintents.adapters.sql.webhook_store import SqlWebhookRepository
from payintents.adapters.sql.write_gate import WriteGate, WriteGateTimeoutError
from payintents.domain.errors import InvariantViolationError
from payintents.service.ports import StoreBusyError

# A PostgreSQL commit that does not wait for its log flush (ADR 0030), as one statement.
POSTGRES_COMMIT_NOT_FLUSHED = "SET LOCAL synchronous_commit TO OFF; COMMIT"


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
    terminals: SqlTerminalRepository
    customers: SqlCustomerRepository
    payment_methods: SqlPaymentMethodRepository
    setup_intents: SqlSetupIntentRepository
    upstreams: SqlUpstreamRepository
    upstream_webhooks: SqlUpstreamWebhookRepository
    mirror_checks: SqlMirrorCheckRepository

    def __init__(
        self,
        engine: Engine,
        *,
        read_only: bool = False,
        gate: WriteGate | None = None,
        within: Savepoint | None = None,
        durable: bool = True,
    ) -> None:
        self._engine = engine
        self._read_only = read_only
        # SQLite decides a transaction's flush before it begins; PostgreSQL at commit.
        self._durable = durable
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
        self.receipts = SqlReceiptRepository(self._conn)
        self.terminals = SqlTerminalRepository(self._conn)
        self.customers = SqlCustomerRepository(self._conn)
        self.payment_methods = SqlPaymentMethodRepository(self._conn)
        self.setup_intents = SqlSetupIntentRepository(self._conn)
        self.upstreams = SqlUpstreamRepository(self._conn)
        self.upstream_webhooks = SqlUpstreamWebhookRepository(self._conn)
        self.mirror_checks = SqlMirrorCheckRepository(self._conn)
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
        if not self._durable and self._conn.dialect.name == "sqlite":
            run_driver_sql(self._conn, "PRAGMA synchronous=NORMAL")
            self._held.callback(_restore_synchronous, self._conn)
        if self._read_only:
            self._conn = self._conn.execution_options(**read_only_options(self._conn))
        self._tx = self._conn.begin()

    @property
    def connection(self) -> Connection:
        """The connection this unit's transaction (or savepoint) runs on."""
        return self._conn

    def commit(self, durable: bool = True) -> None:
        try:
            if not durable and self._within is None and self._conn.dialect.name == "postgresql":
                # One round trip, not two: a statement without parameters goes by the simple
                # query protocol, which takes both. The driver's own commit after it finds no
                # transaction open and sends nothing; SQLAlchemy's then just closes its books.
                run_driver_sql(self._conn, POSTGRES_COMMIT_NOT_FLUSHED)
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


def _restore_synchronous(conn: Connection) -> None:
    """Back to the engine's setting before the connection returns to the pool; a connection that
    cannot take it back is dropped rather than pooled with commits that do not sync."""
    try:
        run_driver_sql(conn, f"PRAGMA synchronous={SQLITE_SYNCHRONOUS}")
    except DBAPIError as exc:
        conn.invalidate(exc)


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

    def commit(self, durable: bool = True) -> None:
        # The surrounding transaction's commit decides the flush.
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
