"""Alembic environment: runs migrations on the connection handed over by ``sql.migrate``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from payintents.adapters.sql.schema import metadata

# An arbitrary constant: every process migrating the same PostgreSQL database takes this lock,
# so several ``serve`` processes starting together migrate one after another.
_MIGRATION_LOCK_ID = 7_243_001


def run_migrations_online() -> None:
    connection = context.config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
        context.run_migrations()


run_migrations_online()
