"""Idempotency keys: claimed with one insert, completed with the stored answer, released when a
request was refused (so the key stays unspent), and reaped after the retention period."""

from __future__ import annotations

from datetime import datetime
from functools import cache

from sqlalchemy import (
    Connection,
    and_,
    bindparam,
    delete,
    select,
    update,
)

from payintents.adapters.sql.prepared import PreparedStatement
from payintents.adapters.sql.schema import (
    idempotency_keys,
)
from payintents.adapters.sql.statements import in_bound_scope, prepared_insert_ignore, scope_params
from payintents.domain.errors import InvariantViolationError
from payintents.domain.idempotency import IdempotencyRecord, StoredResponse
from payintents.domain.intent import Scope

ik = idempotency_keys


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
