"""The sandbox's receipt outbox rows: added when a sandbox key asks for a receipt, listed newest first."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, select

from payintents.adapters.sql.schema import receipts
from payintents.domain.intent import Environment, Scope
from payintents.domain.receipts import Receipt


class SqlReceiptRepository:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def add(self, receipt: Receipt) -> None:
        self._conn.execute(
            receipts.insert().values(
                id=receipt.id,
                account_id=receipt.scope.account_id,
                environment=receipt.scope.environment.value,
                payment_intent_id=receipt.payment_intent_id,
                recipients=json.dumps(list(receipt.recipients)),
                subject=receipt.subject,
                text_body=receipt.text,
                html_body=receipt.html,
                created_at=receipt.created_at,
            )
        )

    def list(self, scope: Scope, intent_id: str | None, limit: int) -> list[Receipt]:
        query = select(receipts).where(
            receipts.c.account_id == scope.account_id, receipts.c.environment == scope.environment.value
        )
        if intent_id is not None:
            query = query.where(receipts.c.payment_intent_id == intent_id)
        # The id breaks ties between receipts recorded in the same microsecond.
        query = query.order_by(receipts.c.created_at.desc(), receipts.c.id.desc()).limit(limit)
        return [_receipt(row) for row in self._conn.execute(query).mappings()]


def _receipt(row: Any) -> Receipt:
    return Receipt(
        id=row["id"],
        scope=Scope(row["account_id"], Environment(row["environment"])),
        payment_intent_id=row["payment_intent_id"],
        recipients=tuple(json.loads(row["recipients"])),
        subject=row["subject"],
        text=row["text_body"],
        html=row["html_body"],
        created_at=row["created_at"],
    )
