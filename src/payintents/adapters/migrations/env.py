"""Alembic environment: runs migrations on the connection handed over by ``sql.migrate``."""

from __future__ import annotations

from alembic import context

from payintents.adapters.sql.migrate import lock_for_migrating
from payintents.adapters.sql.schema import metadata


def run_migrations_online() -> None:
    connection = context.config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        lock_for_migrating(connection)
        context.run_migrations()


run_migrations_online()
