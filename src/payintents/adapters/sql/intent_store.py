"""The payment-intent repository: loading, saving with a version check, search and the refund UPDATE."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    RowMapping,
    Table,
    and_,
    bindparam,
    case,
    func,
    not_,
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
from payintents.adapters.sql.schema import account_upstreams, captures, payment_events, payment_intents
from payintents.adapters.sql.statements import in_bound_scope, in_scope, intent_position, scope_params
from payintents.domain.errors import InvariantViolationError
from payintents.domain.intent import CaptureMode, Environment, PaymentIntent, Scope, Status
from payintents.domain.lifecycle import check_invariants
from payintents.service.ports import ConcurrentUpdateError, IntentPage, IntentQuery, RefundApplied

pi = payment_intents

# The whole refund rule in one statement: the row lock it takes serialises racing refunds, and
# the WHERE clause re-checks the cap, counting the refunds still pending, against committed rows.
_AMOUNT = bindparam("refund_amount", type_=pi.c.refunded_amount.type)
_AT = bindparam("refunded_at", type_=pi.c.updated_at.type)
_THIS_INTENT = and_(in_bound_scope(pi), pi.c.id == bindparam("intent_id"))
RESERVE_REFUND = PreparedStatement(
    update(pi)
    .where(
        _THIS_INTENT,
        pi.c.status == Status.CAPTURED.value,
        pi.c.pending_operation_id.is_(None),
        pi.c.refundable_amount >= pi.c.refunded_amount + pi.c.pending_refund_amount + _AMOUNT,
    )
    .values(pending_refund_amount=pi.c.pending_refund_amount + _AMOUNT)
    .returning(pi.c.reference)
)
_NEW_TOTAL = pi.c.refunded_amount + _AMOUNT
CONFIRM_REFUND = PreparedStatement(
    update(pi)
    .where(_THIS_INTENT, pi.c.pending_refund_amount >= _AMOUNT)
    .values(
        refunded_amount=_NEW_TOTAL,
        pending_refund_amount=pi.c.pending_refund_amount - _AMOUNT,
        status=case((pi.c.refundable_amount == _NEW_TOTAL, Status.REFUNDED.value), else_=pi.c.status),
        updated_at=_AT,
        version=pi.c.version + 1,
    )
    .returning(pi.c.refunded_amount, pi.c.refundable_amount, pi.c.status, pi.c.capture_mode, pi.c.reference)
)
RELEASE_REFUND = (
    update(pi)
    .where(_THIS_INTENT, pi.c.pending_refund_amount >= _AMOUNT)
    .values(pending_refund_amount=pi.c.pending_refund_amount - _AMOUNT)
)
# A capture or reversal holds the intent alone: no refund reserved, nothing else in flight, and
# the intent as it was loaded (the domain checked the transition against that version).
RESERVE_OPERATION = (
    update(pi)
    .where(
        _THIS_INTENT,
        pi.c.version == bindparam("loaded_version"),
        pi.c.pending_operation_id.is_(None),
        pi.c.pending_refund_amount == 0,
    )
    .values(pending_operation_id=bindparam("operation_id"))
)
RELEASE_OPERATION = (
    update(pi)
    .where(_THIS_INTENT, pi.c.pending_operation_id == bindparam("operation_id"))
    .values(pending_operation_id=None)
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

    def save(self, intent: PaymentIntent, finishing: str | None = None) -> None:
        self._check_before_saving(intent)
        values = intent_values(intent)
        values["version"] = intent.version + 1
        in_flight = pi.c.pending_operation_id
        unheld: ColumnElement[bool]
        if finishing is None:
            unheld = in_flight.is_(None)
        else:
            unheld, values["pending_operation_id"] = in_flight == finishing, None
        result = self._conn.execute(
            update(pi).where(pi.c.id == intent.id, pi.c.version == intent.version, unheld).values(values)
        )
        if result.rowcount != 1:
            raise ConcurrentUpdateError(intent.id)
        intent.version += 1
        self._insert_children(intent)

    def _check_before_saving(self, intent: PaymentIntent) -> None:
        """The invariants, before anything is written. On PostgreSQL the row and its captures are
        read by separate statements, so an intent read while another save committed can look
        broken: if its version is stale, that is a lost race to retry, not a broken invariant."""
        try:
            check_invariants(intent)
        except InvariantViolationError:
            stored = self._conn.execute(select(pi.c.version).where(pi.c.id == intent.id)).scalar()
            if stored != intent.version:
                raise ConcurrentUpdateError(intent.id) from None
            raise

    def reserve_refund(self, scope: Scope, intent_id: str, amount: int) -> str | None:
        row = RESERVE_REFUND.run(self._conn, self._refund_params(scope, intent_id, amount)).fetchone()
        return None if row is None else str(row[0])

    def confirm_refund(self, scope: Scope, intent_id: str, amount: int, now: datetime) -> RefundApplied:
        params = {**self._refund_params(scope, intent_id, amount), "refunded_at": now}
        row = CONFIRM_REFUND.run(self._conn, params).fetchone()
        if row is None:
            raise InvariantViolationError(f"no refund of {amount} reserved on {intent_id}")
        refunded, refundable, status, mode, reference = row
        if not 0 < refunded <= refundable:
            raise InvariantViolationError(f"REFUND_CAP broken on {intent_id}")
        applied = RefundApplied(refunded, refundable, Status(status), CaptureMode(mode), reference)
        if applied.status is Status.REFUNDED:
            self._append_event(intent_id, Status.REFUNDED.value, now)
        return applied

    def release_refund(self, scope: Scope, intent_id: str, amount: int) -> None:
        released = self._conn.execute(RELEASE_REFUND, self._refund_params(scope, intent_id, amount))
        if released.rowcount != 1:
            raise InvariantViolationError(f"no refund of {amount} reserved on {intent_id}")

    def reserve_operation(self, intent: PaymentIntent, operation_id: str) -> bool:
        params = {
            **scope_params(intent.scope),
            "intent_id": intent.id,
            "loaded_version": intent.version,
            "operation_id": operation_id,
        }
        return bool(self._conn.execute(RESERVE_OPERATION, params).rowcount == 1)

    def release_operation(self, scope: Scope, intent_id: str, operation_id: str) -> None:
        params = {**scope_params(scope), "intent_id": intent_id, "operation_id": operation_id}
        if self._conn.execute(RELEASE_OPERATION, params).rowcount != 1:
            raise InvariantViolationError(f"operation {operation_id} was not in flight on {intent_id}")

    @staticmethod
    def _refund_params(scope: Scope, intent_id: str, amount: int) -> dict[str, Any]:
        return {**scope_params(scope), "intent_id": intent_id, "refund_amount": amount}

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
            ),
            # A gateway mirror expires, auto-captures or releases at Dojo, which owns it (ADR
            # 0031); the mirror follows what Dojo did (polling, webhooks), never acts on its own.
            not_(
                and_(
                    pi.c.environment == Environment.PRODUCTION.value,
                    pi.c.account_id.in_(select(account_upstreams.c.account_id)),
                )
            ),
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
