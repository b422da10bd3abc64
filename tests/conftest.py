"""Fixtures: fake worlds for unit tests, real stores (SQLite file, PostgreSQL schema) for the rest.

PostgreSQL cases run when PAYINTENTS_TEST_POSTGRES_URL is set (CI always sets it) and skip with a
visible reason otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from payintents.adapters.sql.engine import make_engine
from payintents.adapters.sql.migrate import upgrade
from payintents.bootstrap import Settings, build_dependencies
from payintents.service.accounts import create_account
from payintents.service.dependencies import Dependencies
from payintents.web.app import build_app
from tests.fakes import FakeWorld, fake_world
from tests.support import Api, backend_database_url

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]

# The suite exercises production-environment behaviour (isolation, ids, refunds of captured
# payments) with the built-in processor standing in for a real acquirer, so production intents may
# be paid through the test-card checkout here, in-process and in every server the tests start.
# The default is off; tests/http/test_production_checkout.py checks that.
os.environ["PAYINTENTS_PRODUCTION_CHECKOUT"] = "on"


@pytest.fixture
def world() -> FakeWorld:
    return fake_world()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database on each backend."""
    with backend_database_url(request.param, tmp_path) as url:
        _migrate(url)
        yield url


def _migrate(url: str) -> None:
    engine = make_engine(url, pool_size=1)
    upgrade(engine)
    engine.dispose()


@pytest.fixture
def deps(database_url: str) -> Iterator[Dependencies]:
    engine = make_engine(database_url, pool_size=2)
    yield build_dependencies(Settings(database_url=database_url), engine=engine)
    engine.dispose()


@pytest.fixture
def client(deps: Dependencies) -> Iterator[TestClient]:
    with TestClient(build_app(deps), base_url="http://testserver") as test_client:
        yield test_client


@pytest.fixture
def api(client: TestClient, deps: Dependencies) -> Api:
    """A sandbox-key client of a fresh account."""
    return Api(client, create_account(deps, "merchant").sandbox_key)


@pytest.fixture
def other_api(client: TestClient, deps: Dependencies) -> Api:
    """A sandbox-key client of a second, unrelated account."""
    return Api(client, create_account(deps, "other").sandbox_key)
