"""Setup intents as rows: the status and times in columns, the rest of the state as JSON."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from payintents.adapters.sql.schema import setup_intents
from payintents.adapters.sql.statements import in_scope
from payintents.domain.intent import Environment, Scope
from payintents.domain.setup_intent import SetupEvent, SetupIntent, SetupIntentStatus


class SqlSetupIntentRepository:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def add(self, intent: SetupIntent) -> None:
        self._conn.execute(setup_intents.insert().values(id=intent.id, **_values(intent)))

    def get(self, scope: Scope, setup_intent_id: str) -> SetupIntent | None:
        query = select(setup_intents).where(
            in_scope(setup_intents, scope), setup_intents.c.id == setup_intent_id
        )
        row = self._conn.execute(query).mappings().first()
        return None if row is None else _setup_intent(row)

    def find(self, setup_intent_id: str) -> SetupIntent | None:
        query = select(setup_intents).where(setup_intents.c.id == setup_intent_id)
        row = self._conn.execute(query).mappings().first()
        return None if row is None else _setup_intent(row)

    def save(self, intent: SetupIntent) -> None:
        where = (in_scope(setup_intents, intent.scope), setup_intents.c.id == intent.id)
        self._conn.execute(update(setup_intents).where(*where).values(**_values(intent)))


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _parse(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__} as JSON")


def _values(intent: SetupIntent) -> dict[str, Any]:
    state = {
        "document": intent.document,
        "expireAt": _time(intent.expire_at),
        "clientSessionSecret": intent.client_session_secret,
        "clientSessionSecretExpiresAt": _time(intent.client_session_secret_expires_at),
        "paymentMethodId": intent.payment_method_id,
        "paymentDetails": intent.payment_details,
        "pendingChallenge": intent.pending_challenge,
        "pendingCard": intent.pending_card,
        "pendingToken": intent.pending_token,
        "events": [
            [e.event_type, _time(e.at), e.message, e.card, e.transaction_id, e.payment_method_id]
            for e in intent.events
        ],
    }
    return {
        "account_id": intent.scope.account_id,
        "environment": intent.scope.environment.value,
        "status": intent.status.value,
        "state": json.dumps(state, default=_json_default, separators=(",", ":")),
        "created_at": intent.created_at,
        "updated_at": intent.updated_at,
    }


def _setup_intent(row: Any) -> SetupIntent:
    state = json.loads(row["state"])
    expire_at = _parse(state["expireAt"])
    if expire_at is None:
        raise ValueError(f"setup intent {row['id']} has no expiry")
    return SetupIntent(
        id=row["id"],
        scope=Scope(row["account_id"], Environment(row["environment"])),
        status=SetupIntentStatus(row["status"]),
        document=state["document"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        expire_at=expire_at,
        client_session_secret=state["clientSessionSecret"],
        client_session_secret_expires_at=_parse(state["clientSessionSecretExpiresAt"]),
        payment_method_id=state["paymentMethodId"],
        payment_details=state["paymentDetails"],
        pending_challenge=state["pendingChallenge"],
        pending_card=state["pendingCard"],
        pending_token=state["pendingToken"],
        events=[_event(row, *entry) for entry in state["events"]],
    )


def _event(row: Any, kind: str, at: str, message: str | None, *rest: Any) -> SetupEvent:
    moment = _parse(at) or row["created_at"]
    return SetupEvent(kind, moment, message, *rest)
