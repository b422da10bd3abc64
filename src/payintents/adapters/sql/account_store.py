"""Accounts and their API keys in SQL, and authentication's read of a key.

The key's read also brings what every request of the account needs before it starts: the
sandbox clock's offset, whether any ``fail-next`` failure is armed (service/fault_injection.py), and the
key's public id. A revoked key is not found: every request reads the key, so a
revocation holds from its commit on, in every worker process.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, case, exists, func, insert, or_, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from payintents.adapters.sql.engine import read_only_options
from payintents.adapters.sql.prepared import PreparedStatement
from payintents.adapters.sql.schema import accounts, api_keys, sandbox_clocks, sandbox_failures
from payintents.domain.intent import Environment
from payintents.service.ports import ApiKeyRecord, ApiKeySummary, NewApiKey, StoreBusyError

# Any failure armed for the key's account and environment, as 1 or 0 (a plain integer, which
# every driver returns as it is): ix_sandbox_failures_account answers it.
_FAILURES_ARMED = case(
    (
        exists().where(
            sandbox_failures.c.account_id == api_keys.c.account_id,
            sandbox_failures.c.environment == api_keys.c.environment,
        ),
        1,
    ),
    else_=0,
)
FIND_API_KEY = PreparedStatement(
    select(
        api_keys.c.key_hash,
        api_keys.c.account_id,
        api_keys.c.environment,
        sandbox_clocks.c.offset_us,
        _FAILURES_ARMED,
        api_keys.c.id,
    )
    .select_from(api_keys.outerjoin(sandbox_clocks, sandbox_clocks.c.account_id == api_keys.c.account_id))
    .where(api_keys.c.key_hash == bindparam("wanted_hash"), api_keys.c.revoked_at.is_(None))
)
_SUMMARY_COLUMNS = (
    api_keys.c.id,
    api_keys.c.prefix,
    api_keys.c.account_id,
    api_keys.c.environment,
    api_keys.c.created_at,
    api_keys.c.last_used_at,
    api_keys.c.revoked_at,
)


class SqlAccountRepository:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def add(self, account_id: str, name: str, keys: Sequence[NewApiKey], now: datetime) -> None:
        self._conn.execute(insert(accounts).values(id=account_id, name=name, created_at=now))
        for key in keys:
            self.add_key(key, now)

    def add_key(self, key: NewApiKey, now: datetime) -> None:
        self._conn.execute(
            insert(api_keys).values(
                key_hash=key.key_hash,
                id=key.key_id,
                prefix=key.prefix,
                account_id=key.account_id,
                environment=key.environment.value,
                created_at=now,
            )
        )

    def find_key(self, key_hash: str) -> ApiKeyRecord | None:
        return _key_record(FIND_API_KEY.run(self._conn, {"wanted_hash": key_hash}).fetchone())

    def count(self) -> int:
        return int(self._conn.execute(select(func.count()).select_from(accounts)).scalar_one())

    def exists(self, account_id: str) -> bool:
        found = self._conn.execute(select(accounts.c.id).where(accounts.c.id == account_id)).first()
        return found is not None

    def list_keys(self, account_id: str) -> list[ApiKeySummary]:
        rows = self._conn.execute(
            select(*_SUMMARY_COLUMNS)
            .where(api_keys.c.account_id == account_id)
            .order_by(api_keys.c.created_at, api_keys.c.id)
        ).all()
        return [_summary(row) for row in rows]

    def find_summary(self, key_id: str | None, key_hash: str | None) -> ApiKeySummary | None:
        wanted = api_keys.c.id == key_id if key_id is not None else api_keys.c.key_hash == key_hash
        row = self._conn.execute(select(*_SUMMARY_COLUMNS).where(wanted)).first()
        return None if row is None else _summary(row)

    def revoke_key(self, key_id: str, now: datetime) -> bool:
        done = self._conn.execute(
            update(api_keys)
            .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return int(done.rowcount) == 1

    def record_key_use(self, used_at: Mapping[str, datetime], precision: timedelta) -> None:
        for key_hash, moment in sorted(used_at.items()):  # one order, so writers never deadlock
            self._conn.execute(
                update(api_keys)
                .where(
                    api_keys.c.key_hash == key_hash,
                    or_(api_keys.c.last_used_at.is_(None), api_keys.c.last_used_at <= moment - precision),
                )
                .values(last_used_at=moment)
            )


def find_api_key(engine: Engine, key_hash: str) -> ApiKeyRecord | None:
    """Authentication's read, without a unit of work: one statement reads a consistent state on
    its own (on SQLite outside BEGIN, on PostgreSQL in autocommit), so it needs no BEGIN and no
    ROLLBACK, and a request saves the ~80 µs a read unit of work costs around it."""
    try:
        with engine.connect() as conn:
            conn.execution_options(**read_only_options(conn))
            return SqlAccountRepository(conn).find_key(key_hash)
    except (OperationalError, PoolTimeoutError) as exc:
        # As in a unit of work: an unreachable or saturated database is "busy" (503), never a 500.
        raise StoreBusyError("the database is busy or unreachable") from exc


def _key_record(row: Any) -> ApiKeyRecord | None:
    if row is None:
        return None
    offset = timedelta(microseconds=int(row[3] or 0))
    return ApiKeyRecord(
        row[0],
        row[1],
        Environment(row[2]),
        offset,
        failures_armed=bool(row[4]),
        key_id=row[5],
    )


def _summary(row: Any) -> ApiKeySummary:
    return ApiKeySummary(
        key_id=row.id,
        prefix=row.prefix,
        account_id=row.account_id,
        environment=Environment(row.environment),
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )
