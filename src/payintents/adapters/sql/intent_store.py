"""The payment-intent repository: loading, saving with a version check, search and the refund UPDATE."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    RowMapping,
    Table,
    and_,
    bindparam,
    case,
    func,
    or_,
    select,
    tuple_,
    update,
)

from payintents.adapters.sql.intent_rows import (
    capture_values,
    event_values,
    intent_from_rows,
    intent_values,
)
from payintents.adapters.sql.prepared import PreparedStatement
from payintents.adapters.sql.schema import captures, payment_events, payment_intents
from payintents.adapters.sql.statements import in_bound_scope, in_scope, intent_position, scope_params
from payintents.domain.errors import InvariantViolationError
from payintents.domain.intent import CaptureMode, Environment, PaymentIntent, Scope, Status
from payintents.domain.lifecycle import check_invariants
from payintents.service.ports import ConcurrentUpdateError, IntentPage, IntentQuery, RefundApplied

pi = payment_intents

# The whole refund rule in one statement: the row lock it takes serialises racing refunds, and
# the WHERE clause re-checks the cap against the committed total.
_NEW_TOTAL = pi.c.refunded_amount + bindparam("refund_amount", type_=pi.c.refunded_amount.type)
APPLY_REFUND = PreparedStatement(
    update(pi)
    .where(
        in_bound_scope(pi),
        pi.c.id == bindparam("intent_id"),
        pi.c.status == Status.CAPTURED.value,
        pi.c.refundable_amount >= _NEW_TOTAL,
    )
    .values(
        refunded_amount=_NEW_TOTAL,
        status=case((pi.c.refundable_amount == _NEW_TOTAL, Status.REFUNDED.value), else_=pi.c.status),
        updated_at=bindparam("refunded_at", type_=pi.c.updated_at.type),
        version=pi.c.version + 1,
    )
    .returning(pi.c.refunded_amount, pi.c.refundable_amount, pi.c.status, pi.c.capture_mode, pi.c.reference)
)

_FIND = select(pi).where(pi.c.id == bindparam("intent_id"))
_GET_IN_SCOPE = _FIND.where(in_bound_scope(pi))
_CHILDREN = {
    table.name: select(table)
    .where(table.c.payment_intent_id == bindparam("intent_id"))
    .order_by(table.c.position)
    for table in (captures, payment_events)
}


class SqlIntentRepository:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection
        # How many capture and event rows each loaded intent had, so save() inserts only new ones.
        self._loaded: dict[str, tuple[int, int]] = {}

    def add(self, intent: PaymentIntent) -> None:
        check_invariants(intent)
        self._conn.execute(pi.insert().values(intent_values(intent)))
        self._loaded[intent.id] = (0, 0)
        self._insert_children(intent)

    def get(self, scope: Scope, intent_id: str) -> PaymentIntent | None:
        params = {**scope_params(scope), "intent_id": intent_id}
        row = self._conn.execute(_GET_IN_SCOPE, params).mappings().first()
        return None if row is None else self._load(row)

    def find(self, intent_id: str) -> PaymentIntent | None:
        row = self._conn.execute(_FIND, {"intent_id": intent_id}).mappings().first()
        return None if row is None else self._load(row)

    def save(self, intent: PaymentIntent) -> None:
        check_invariants(intent)
        values = intent_values(intent)
        values["version"] = intent.version + 1
        result = self._conn.execute(
            update(pi).where(pi.c.id == intent.id, pi.c.version == intent.version).values(values)
        )
        if result.rowcount != 1:
            raise ConcurrentUpdateError(intent.id)
        intent.version += 1
        self._insert_children(intent)

    def apply_refund(self, scope: Scope, intent_id: str, amount: int, now: datetime) -> RefundApplied | None:
        params = {**scope_params(scope), "intent_id": intent_id, "refund_amount": amount, "refunded_at": now}
        row = APPLY_REFUND.run(self._conn, params).fetchone()
        if row is None:
            return None
        refunded, refundable, status, mode, reference = row
        if not 0 < refunded <= refundable:
            raise InvariantViolationError(f"REFUND_CAP broken on {intent_id}")
        applied = RefundApplied(refunded, refundable, Status(status), CaptureMode(mode), reference)
        if applied.status is Status.REFUNDED:
            self._append_event(intent_id, Status.REFUNDED.value, now)
        return applied

    def search(self, scope: Scope, query: IntentQuery) -> IntentPage:
        position = tuple_(pi.c.created_at, pi.c.id)
        stmt = select(pi).where(in_scope(pi, scope))
        if query.statuses:
            stmt = stmt.where(pi.c.status.in_(sorted(s.value for s in query.statuses)))
        if query.start_at is not None:
            stmt = stmt.where(pi.c.created_at >= query.start_at)
        if query.end_at is not None:
            stmt = stmt.where(pi.c.created_at <= query.end_at)
        newest_first = query.before is None
        if query.after is not None:
            stmt = stmt.where(position < intent_position(query.after))
        if query.before is not None:
            stmt = stmt.where(position > intent_position(query.before))
        order = (pi.c.created_at.desc(), pi.c.id.desc()) if newest_first else (pi.c.created_at, pi.c.id)
        rows = self._conn.execute(stmt.order_by(*order).limit(query.limit + 1)).mappings().all()
        intents = [self._load(row) for row in rows[: query.limit]]
        if not newest_first:
            intents.reverse()
        return IntentPage(intents, has_more=len(rows) > query.limit)

    def due_for_expiry(
        self, now: datetime, limit: int, scope: Scope | None = None
    ) -> list[tuple[Scope, str]]:
        stmt = select(pi.c.account_id, pi.c.environment, pi.c.id).where(
            or_(
                and_(pi.c.status == Status.CREATED.value, pi.c.expire_at <= now),
                and_(pi.c.status == Status.AUTHORIZED.value, pi.c.auto_expire_at <= now),
            )
        )
        if scope is not None:
            stmt = stmt.where(in_scope(pi, scope))
        rows = self._conn.execute(stmt.limit(limit)).all()
        return [(Scope(acc, Environment(env)), intent_id) for acc, env, intent_id in rows]

    def _load(self, row: Mapping[Any, Any]) -> PaymentIntent:
        intent_id = row["id"]
        capture_rows = self._children(captures, intent_id)
        event_rows = self._children(payment_events, intent_id)
        self._loaded[intent_id] = (len(capture_rows), len(event_rows))
        return intent_from_rows(row, capture_rows, event_rows)

    def _children(self, table: Table, intent_id: str) -> Sequence[RowMapping]:
        """An intent's capture or event rows, in the order they happened."""
        return self._conn.execute(_CHILDREN[table.name], {"intent_id": intent_id}).mappings().all()

    def _insert_children(self, intent: PaymentIntent) -> None:
        n_captures, n_events = self._loaded[intent.id]
        for position in range(n_captures, len(intent.captures)):
            self._conn.execute(
                captures.insert().values(capture_values(intent.id, position, intent.captures[position]))
            )
        for position in range(n_events, len(intent.events)):
            self._conn.execute(
                payment_events.insert().values(event_values(intent.id, position, intent.events[position]))
            )
        self._loaded[intent.id] = (len(intent.captures), len(intent.events))

    def _append_event(self, intent_id: str, event_type: str, now: datetime) -> None:
        next_position = select(func.coalesce(func.max(payment_events.c.position) + 1, 0)).where(
            payment_events.c.payment_intent_id == intent_id
        )
        self._conn.execute(
            payment_events.insert().values(
                payment_intent_id=intent_id,
                position=next_position.scalar_subquery(),
                event_type=event_type,
                at=now,
            )
        )
