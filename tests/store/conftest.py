"""Fixtures of the store tests that need PostgreSQL itself."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine

from payintents.adapters.sql.engine import make_engine
from payintents.adapters.sql.migrate import alembic_config
from tests.postgres_schemas import MigratedSchemas
from tests.support import backend_database_url


@pytest.fixture
def postgres_url(migrated_postgres_schemas: MigratedSchemas) -> Iterator[str]:
    """A migrated, empty PostgreSQL schema (skips without PAYINTENTS_TEST_POSTGRES_URL)."""
    with migrated_postgres_schemas.schema_url() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine_at_0006(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A database migrated by Alembic up to revision 0006, for the migrations after it to upgrade."""
    with backend_database_url(request.param, tmp_path, "at-0006") as url:
        engine = make_engine(url, pool_size=1)
        config = alembic_config(engine)
        with engine.connect() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0006")
            connection.commit()
        yield engine
        engine.dispose()
