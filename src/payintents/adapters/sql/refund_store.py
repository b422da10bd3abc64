"""Refund rows: added once the processor confirmed a refund, read back by id or by intent."""

from __future__ import annotations

from sqlalchemy import (
    Connection,
    bindparam,
    func,
    select,
)

from payintents.adapters.sql.prepared import PreparedStatement
from payintents.adapters.sql.schema import (
    refunds,
)
from payintents.domain.intent import Environment, Scope
from payintents.domain.refund import Refund

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
