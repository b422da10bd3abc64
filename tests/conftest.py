"""Fixtures: fake worlds for unit tests, real stores (SQLite file, PostgreSQL schema) for the rest.

PostgreSQL cases run when PAYINTENTS_TEST_POSTGRES_URL is set (CI always sets it) and skip with a
visible reason otherwise.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from payintents.adapters.sql.engine import make_engine
from payintents.bootstrap import Settings, build_dependencies
from payintents.service.accounts import create_account
from payintents.service.dependencies import Dependencies
from payintents.web.app import build_app
from tests.fakes import FakeWorld, fake_world
from tests.postgres_schemas import MigratedSchemas
from tests.support import Api, migrate_database, postgres_admin_url, skip_without_postgres

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]

# The suite exercises production-environment behaviour (isolation, ids, refunds of captured
# payments) with the built-in processor standing in for a real acquirer, so production intents may
# be paid through the test-card checkout here, in-process and in every server the tests start.
# The default is off; tests/http/test_production_checkout.py checks that.
os.environ["PAYINTENTS_PRODUCTION_CHECKOUT"] = "on"


@pytest.fixture
def world() -> FakeWorld:
    return fake_world()


@pytest.fixture(scope="session")
def migrated_sqlite_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite file migrated to the newest schema, per test process: each test that wants a
    migrated SQLite database gets a copy (a copy takes a millisecond, the migrations some 40 ms,
    and about a thousand tests take one)."""
    path = tmp_path_factory.mktemp("migrated") / "payintents.db"
    migrate_database(f"sqlite:///{path}")
    return path


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database on each backend."""
    if request.param == "sqlite":
        # shutil.copy keeps the file's mode (0600) as the server would have made it.
        copy = shutil.copy(request.getfixturevalue("migrated_sqlite_file"), tmp_path / "payintents.db")
        yield f"sqlite:///{copy}"
        return
    with request.getfixturevalue("migrated_postgres_schemas").schema_url() as url:
        yield url


@pytest.fixture(scope="session")
def migrated_postgres_schemas() -> Iterator[MigratedSchemas]:
    """This test process's migrated PostgreSQL schemas, each emptied and reused by the next test
    (tests/postgres_schemas.py); PostgreSQL cases skip (or fail, in CI) without PostgreSQL."""
    skip_without_postgres()
    schemas = MigratedSchemas(str(postgres_admin_url()))
    yield schemas
    schemas.close()


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


# Test processes per core for ``-n auto`` (``make test``). Most end-to-end tests wait (for a
# server or a browser to start, a receiver, a send timeout, a kill's recovery), and with one
# process per core the cores sat half idle; PYTEST_XDIST_AUTO_NUM_WORKERS sets the number outright.
WORKERS_PER_CORE = 2


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None  # pytest-xdist's own hook reads it
    return WORKERS_PER_CORE * len(os.sched_getaffinity(0))


def _module_of(item: pytest.Item) -> str:
    return item.nodeid.split("::")[0]


def _weight(tests: list[pytest.Item]) -> int:
    """0 for a module with a slow test, 1 for one that starts servers (e2e), 2 for the rest."""
    marks = {mark.name for test in tests for mark in test.iter_markers()}
    return 0 if "slow" in marks else 1 if "e2e" in marks else 2


def _shares_a_fixture(item: pytest.Item) -> bool:
    """Whether the test uses a fixture made once per module or class (a server, a browser)."""
    if not isinstance(item, pytest.Function):
        return False
    definitions = item._fixtureinfo.name2fixturedefs.values()
    return any(d.scope in {"module", "class", "package"} for defs in definitions for d in defs)


def pytest_configure(config: pytest.Config) -> None:
    # pytest-xdist would hand out the groups with the most tests first, undoing the order below.
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """How pytest-xdist shares the tests out (``make test``: ``--dist loadgroup``): heaviest modules
    first, so the longest start at once instead of one of them running alone at the end while the
    other worker sits idle; and a module whose tests share a server made once per module goes to
    one worker, so that server starts once. A slow module's tests are spread instead: each is long
    enough to be worth its own server on the other worker."""
    by_module: dict[str, list[pytest.Item]] = {}
    for item in items:
        by_module.setdefault(_module_of(item), []).append(item)
    weight = {module: _weight(tests) for module, tests in by_module.items()}
    for module, tests in by_module.items():
        if weight[module] > 0:
            for item in tests:
                if _shares_a_fixture(item):
                    item.add_marker(pytest.mark.xdist_group(module))
    items.sort(key=lambda item: weight[_module_of(item)])
