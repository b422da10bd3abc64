"""Fixtures for the SDK's tests: a real ``payintents serve`` on 127.0.0.1 (SQLite always, PostgreSQL
when PAYINTENTS_TEST_POSTGRES_URL is set), an account key on it, and clients pointed at it.

The server is the separately installed ``payintents`` distribution, started as a subprocess: the
SDK under test imports nothing from it (these helpers use its ``payintents.testbed``, the free
port, readiness wait and scratch schemas the server's own tests use).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from payintents.testbed.databases import postgres_scratch_schema

from payintents_client import Client
from sdk_support import ServerUnderTest, start_server

POSTGRES_ENV = "PAYINTENTS_TEST_POSTGRES_URL"


@pytest.fixture(scope="session", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerUnderTest]:
    """One server per backend for the whole session; every test makes its own intents."""
    workdir: Path = tmp_path_factory.mktemp(f"server-{request.param}")
    if request.param == "sqlite":
        with start_server(f"sqlite:///{workdir / 'payintents.db'}", workdir) as running:
            yield running
        return
    admin = os.environ.get(POSTGRES_ENV)
    if not admin:
        if os.environ.get("PAYINTENTS_REQUIRE_POSTGRES"):
            pytest.fail(f"PAYINTENTS_REQUIRE_POSTGRES is set but {POSTGRES_ENV} is not")
        pytest.skip(f"PostgreSQL case: set {POSTGRES_ENV} to run it")
    with postgres_scratch_schema(admin, "sdk") as url, start_server(url, workdir) as running:
        yield running


@pytest.fixture
def client(server: ServerUnderTest) -> Iterator[Client]:
    with Client(server.api_key, base_url=server.base_url, backoff_s=0.01) as sdk:
        yield sdk
