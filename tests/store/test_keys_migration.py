"""Migration 0009 on SQLite and PostgreSQL, over a database that already holds keys and dashboard
sessions: the keys keep opening their accounts and get an id and a prefix, the sessions end (they
have no last-seen time), and the result matches the schema module."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, text

from payintents.adapters.sql.migrate import upgrade
from payintents.adapters.sql.unit_of_work import SqlUnitOfWork
from payintents.service.accounts import hash_key
from tests.store.test_migrations import differences

RAW_KEY = "sk_sandbox_" + "k" * 86


def test_keys_made_before_0009_keep_working_and_sessions_end(engine_at_0006: Engine) -> None:
    now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC).replace(tzinfo=None)
    rows = {"hash": hash_key(RAW_KEY), "now": now}
    with engine_at_0006.begin() as conn:
        conn.execute(
            text("INSERT INTO accounts (id, name, created_at) VALUES ('acc_old', 'old', :now)"), rows
        )
        conn.execute(
            text(
                "INSERT INTO api_keys (key_hash, account_id, environment, created_at)"
                " VALUES (:hash, 'acc_old', 'sandbox', :now)"
            ),
            rows,
        )
        conn.execute(
            text(
                "INSERT INTO dashboard_sessions (token_hash, account_id, environment, csrf_token, created_at,"
                " expires_at) VALUES ('t', 'acc_old', 'sandbox', 'c', :now, :now)"
            ),
            rows,
        )
    upgrade(engine_at_0006)
    assert differences(engine_at_0006) == []
    with SqlUnitOfWork(engine_at_0006) as uow:
        record = uow.accounts.find_key(hash_key(RAW_KEY))
        assert record is not None and record.account_id == "acc_old"
        assert record.key_id == "key_sandbox_" + hash_key(RAW_KEY)[:22]
        [summary] = uow.accounts.list_keys("acc_old")
        assert summary.prefix == "sk_sandbox_" and summary.last_used_at is None and summary.revoked_at is None
    with engine_at_0006.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM dashboard_sessions")).scalar_one() == 0
