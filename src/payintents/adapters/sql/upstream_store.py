"""Accounts' upstreams in SQL (ADR 0031): the row holds the Dojo key sealed, never in clear."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, func, insert, select

from payintents.adapters.sql.schema import account_upstreams
from payintents.service.upstream_ports import SealedSecret, StoredUpstream


class SqlUpstreamRepository:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def get(self, account_id: str) -> StoredUpstream | None:
        row = self._conn.execute(
            select(account_upstreams).where(account_upstreams.c.account_id == account_id)
        ).first()
        return None if row is None else _upstream(row._mapping)

    def put(self, upstream: StoredUpstream) -> None:
        self.delete(upstream.account_id)
        self._conn.execute(
            insert(account_upstreams).values(
                account_id=upstream.account_id,
                provider=upstream.provider,
                base_url=upstream.base_url,
                key_id=upstream.sealed_key.key_id,
                sealed_key=upstream.sealed_key.ciphertext,
                updated_at=upstream.updated_at,
            )
        )

    def delete(self, account_id: str) -> bool:
        done = self._conn.execute(
            delete(account_upstreams).where(account_upstreams.c.account_id == account_id)
        )
        return bool(done.rowcount)

    def count(self) -> int:
        return int(self._conn.execute(select(func.count()).select_from(account_upstreams)).scalar_one())

    def list(self) -> list[StoredUpstream]:
        rows = self._conn.execute(select(account_upstreams).order_by(account_upstreams.c.account_id))
        return [_upstream(row._mapping) for row in rows]


def _upstream(row: Any) -> StoredUpstream:
    return StoredUpstream(
        account_id=row["account_id"],
        provider=row["provider"],
        base_url=row["base_url"],
        sealed_key=SealedSecret(row["key_id"], row["sealed_key"]),
        updated_at=row["updated_at"],
    )
