"""Fixtures of the store tests that need PostgreSQL itself."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from payintents.adapters.sql.engine import make_engine
from payintents.adapters.sql.migrate import upgrade
from tests.support import backend_database_url


@pytest.fixture
def postgres_url(tmp_path: Path) -> Iterator[str]:
    """A migrated, empty PostgreSQL schema (skips without PAYINTENTS_TEST_POSTGRES_URL)."""
    with backend_database_url("postgres", tmp_path) as url:
        engine = make_engine(url, pool_size=1)
        upgrade(engine)
        engine.dispose()
        yield url
