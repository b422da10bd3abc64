"""The pool of migrated PostgreSQL test schemas (tests/postgres_schemas.py, ADR 0034): a schema
given back is handed out again with no rows and its identities restarted, and one whose structure
a test changed is dropped instead (the check can fail)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text

from payintents.adapters.sql.engine import make_engine
from tests.postgres_schemas import MigratedSchemas
from tests.support import postgres_admin_url, skip_without_postgres

pytestmark = pytest.mark.postgres

LOG_ROW = (
    "INSERT INTO sandbox_requests (account_id, environment, trace_id, at, method, path, status,"
    " duration_ms, replayed, request_body, response_body)"
    " VALUES ('acc', 'sandbox', 'trace', now(), 'GET', '/', 200, 1, false, '', '') RETURNING id"
)
ACCOUNT_ROW = "INSERT INTO accounts (id, name, created_at) VALUES ('acc', 'a', now()) RETURNING id"


@pytest.fixture
def pool() -> Iterator[MigratedSchemas]:
    """A pool of its own, so the test sees exactly which schemas it hands out."""
    skip_without_postgres()
    schemas = MigratedSchemas(str(postgres_admin_url()))
    yield schemas
    schemas.close()


def _run(url: str, *statements: str) -> list[object]:
    """Each statement's first value, all in one transaction on ``url``."""
    engine = make_engine(url, pool_size=1)
    try:
        with engine.begin() as conn:
            values = []
            for statement in statements:
                result = conn.execute(text(statement))
                values.append(result.scalar() if result.returns_rows else None)
            return values
    finally:
        engine.dispose()


def test_a_schema_given_back_comes_again_empty_with_identities_restarted(pool: MigratedSchemas) -> None:
    with pool.schema_url() as first:
        assert _run(first, LOG_ROW, LOG_ROW, ACCOUNT_ROW) == [1, 2, "acc"]
    with pool.schema_url() as second:
        counts = _run(second, "SELECT count(*) FROM sandbox_requests", "SELECT count(*) FROM accounts")
        assert _run(second, LOG_ROW, ACCOUNT_ROW) == [1, "acc"]
    assert second == first
    assert counts == [0, 0]


@pytest.mark.parametrize(
    "change",
    [
        "CREATE INDEX ix_extra ON sandbox_requests (path)",
        "ALTER TABLE sandbox_requests ALTER COLUMN path TYPE text",
        "ALTER TABLE accounts ADD COLUMN extra integer",
        "CREATE TABLE extra (x integer)",
        "UPDATE alembic_version SET version_num = 'other'",
    ],
)
def test_a_schema_whose_structure_changed_is_dropped(pool: MigratedSchemas, change: str) -> None:
    with pool.schema_url() as changed:
        _run(changed, change)
    with pool.schema_url() as next_one:
        pass
    assert next_one != changed
    assert _schema_exists(changed) is False


def _schema_exists(url: str) -> bool:
    name = url.rpartition("search_path%3D")[2]
    return bool(
        _run(str(postgres_admin_url()), f"SELECT count(*) FROM pg_namespace WHERE nspname = '{name}'")[0]
    )
