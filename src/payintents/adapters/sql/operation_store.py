"""Money operations (refunds, captures, reversals in flight, ADR 0026) and the sandbox processor's
ledger, as rows."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from payintents.adapters.sql.prepared import PreparedStatement
from payintents.adapters.sql.schema import money_operations, sandbox_processor_ledger
from payintents.adapters.sql.statements import in_scope, prepared_insert_ignore
from payintents.domain.errors import InvariantViolationError
from payintents.domain.idempotency import StoredResponse
from payintents.domain.intent import Environment, Scope
from payintents.domain.money_operation import (
    CallerKey,
    MoneyOperation,
    OperationKind,
    OperationStatus,
    ProcessorOutcome,
)
from payintents.domain.sandbox import FailOperation, FailOutcome, InjectedFailure

mo = money_operations
ledger = sandbox_processor_ledger
_PENDING = OperationStatus.PENDING.value

# The statements every refund, capture or reversal runs, built once (ADR 0013): building an
# INSERT's values or an UPDATE per call cost more than running it.
ADD_OPERATION = PreparedStatement(mo.insert())
FINISH_OPERATION = PreparedStatement(
    update(mo)
    .where(mo.c.id == bindparam("operation_id"), mo.c.status == _PENDING)
    .values(status=bindparam("new_status"), finished_at=bindparam("finished"))
    .returning(mo.c.id)
)
GET_OPERATION = select(mo).where(mo.c.id == bindparam("operation_id"))
FIND_IN_LEDGER = select(ledger.c.outcome).where(ledger.c.processor_key == bindparam("ledger_key"))


class SqlMoneyOperationRepository:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def add(self, operation: MoneyOperation) -> None:
        ADD_OPERATION.run(self._conn, _values(operation))

    def get(self, operation_id: str) -> MoneyOperation | None:
        row = self._conn.execute(GET_OPERATION, {"operation_id": operation_id}).mappings().first()
        return None if row is None else _operation(row)

    def for_key(self, scope: Scope, target: str, key: str) -> MoneyOperation | None:
        query = (
            select(mo)
            .where(in_scope(mo, scope), mo.c.key_target == target, mo.c.idempotency_key == key)
            .where(mo.c.status != OperationStatus.FAILED.value)
        )
        row = self._conn.execute(query).mappings().first()
        return None if row is None else _operation(row)

    def finish(self, operation_id: str, status: OperationStatus, now: datetime) -> bool:
        # Guarded: of a request and the reconciler recording one operation, only one does.
        params = {"operation_id": operation_id, "new_status": status.value, "finished": now}
        return FINISH_OPERATION.run(self._conn, params).fetchone() is not None

    def name_object(self, operation: MoneyOperation) -> None:
        named = {"object_id": operation.object_id, "answer_body": operation.answer.body}
        self._conn.execute(update(mo).where(mo.c.id == operation.id).values(named))

    def overdue(self, now: datetime, limit: int) -> list[MoneyOperation]:
        query = (
            select(mo)
            .where(mo.c.status == _PENDING, mo.c.deadline_at <= now)
            .order_by(mo.c.deadline_at, mo.c.id)
            .limit(limit)
        )
        return [_operation(row) for row in self._conn.execute(query).mappings()]

    def any_pending(self, scope: Scope) -> bool:
        query = select(mo.c.id).where(in_scope(mo, scope), mo.c.status == _PENDING).limit(1)
        return self._conn.execute(query).first() is not None

    def pending_on(self, scope: Scope, intent_id: str) -> list[MoneyOperation]:
        query = select(mo).where(
            in_scope(mo, scope), mo.c.payment_intent_id == intent_id, mo.c.status == _PENDING
        )
        rows = self._conn.execute(query.order_by(mo.c.created_at)).mappings()
        return [_operation(row) for row in rows]


def _values(operation: MoneyOperation) -> dict[str, Any]:
    injected, caller = operation.injected, operation.caller_key
    return {
        "id": operation.id,
        "account_id": operation.scope.account_id,
        "environment": operation.scope.environment.value,
        "payment_intent_id": operation.intent_id,
        "kind": operation.kind.value,
        "amount": operation.amount,
        "tips_amount": operation.tips_amount,
        "status": operation.status.value,
        "key_target": caller.target if caller else None,
        "idempotency_key": caller.key if caller else None,
        "processor_key": operation.processor_key,
        "failure_outcome": injected.outcome.value if injected else None,
        "failure_delay_ms": injected.delay_ms if injected else None,
        "object_id": operation.object_id,
        "details": json.dumps(operation.details) if operation.details is not None else None,
        "answer_status": operation.answer.status_code,
        "answer_body": operation.answer.body,
        "requested_at": operation.requested_at,
        "created_at": operation.created_at,
        "deadline_at": operation.deadline_at,
    }


def _operation(row: Mapping[Any, Any]) -> MoneyOperation:
    kind = OperationKind(row["kind"])
    injected = None
    if row["failure_outcome"] is not None:
        # Only captures and refunds take sandbox failures.
        operation = FailOperation(kind.value)
        injected = InjectedFailure(operation, FailOutcome(row["failure_outcome"]), row["failure_delay_ms"])
    caller = None
    if row["idempotency_key"] is not None:
        caller = CallerKey(row["key_target"], row["idempotency_key"])
    return MoneyOperation(
        id=row["id"],
        scope=Scope(row["account_id"], Environment(row["environment"])),
        intent_id=row["payment_intent_id"],
        kind=kind,
        amount=row["amount"],
        object_id=row["object_id"],
        answer=StoredResponse(row["answer_status"], bytes(row["answer_body"])),
        requested_at=row["requested_at"],
        created_at=row["created_at"],
        deadline_at=row["deadline_at"],
        caller_key=caller,
        injected=injected,
        tips_amount=row["tips_amount"],
        details=json.loads(row["details"]) if row["details"] else None,
        status=OperationStatus(row["status"]),
    )


class SqlProcessorLedgerRepository:
    """The sandbox processor's ledger: one row per processor key, never overwritten."""

    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def record(
        self, key: str, operation: MoneyOperation, outcome: ProcessorOutcome, now: datetime
    ) -> ProcessorOutcome:
        values = {
            "processor_key": key,
            "kind": operation.kind.value,
            "payment_intent_id": operation.intent_id,
            "amount": operation.amount,
            "outcome": outcome.value,
            "created_at": now,
        }
        if _record_in_ledger(self._conn.dialect.name).run(self._conn, values).fetchone() is not None:
            return outcome
        stands = self.find(key)
        if stands is None:
            raise InvariantViolationError(f"the ledger lost {key}")
        return stands

    def find(self, key: str) -> ProcessorOutcome | None:
        found = self._conn.execute(FIND_IN_LEDGER, {"ledger_key": key}).scalar()
        return None if found is None else ProcessorOutcome(found)


@cache
def _record_in_ledger(dialect_name: str) -> PreparedStatement:
    # A row back means this call wrote the entry; none, that the key was already there.
    return PreparedStatement(prepared_insert_ignore(dialect_name, ledger).returning(ledger.c.processor_key))
