"""The outbox: each event a committed change caused, and its webhook deliveries (fanned out in
the same transaction)."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import (
    Connection,
)

from payintents.adapters.sql.prepared import PreparedStatement
from payintents.adapters.sql.schema import (
    outbox_events,
)
from payintents.adapters.sql.webhook_store import fan_out
from payintents.domain.events import OutboxEvent

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
