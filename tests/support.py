"""Helpers shared by the HTTP, end-to-end and harness tests: a thin Dojo API client for tests,
database URLs for both stores, and a real ``payintents serve`` process on loopback (started by
``payintents.testbed``, which ``payintents bench`` shares)."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from payintents.adapters.sql.engine import make_engine
from payintents.adapters.sql.migrate import upgrade
from payintents.bootstrap import Settings, build_dependencies
from payintents.domain.intent import Environment
from payintents.service.accounts import create_account
from payintents.service.dependencies import Dependencies
from payintents.service.terminals import create_terminal
from payintents.testbed import processes
from payintents.testbed.databases import postgres_scratch_schema

VERSION = "2024-02-05"
SUCCESS_CARD = {"cardNumber": "5200000000001005", "expiryDate": "12/29", "cvv": "020"}
CHALLENGE_CARD = {"cardNumber": "5200000000001096", "expiryDate": "12/29", "cvv": "020"}
DECLINED_CARD = {"cardNumber": "4456530000001013", "expiryDate": "12/29", "cvv": "341"}
POSTGRES_ENV = "PAYINTENTS_TEST_POSTGRES_URL"


class Api:
    """A test client speaking Dojo's API with one key; every method returns the raw response."""

    def __init__(self, client: httpx.Client, key: str) -> None:
        self.client = client
        self.key = key

    def headers(self, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Basic {self.key}", "Version": VERSION, **extra}

    def post(self, path: str, body: Any = None, **headers: str) -> httpx.Response:
        content = None if body is None else json.dumps(body)
        hdrs = self.headers(**headers)
        if content is not None:
            hdrs.setdefault("Content-Type", "application/json")
        return self.client.post(path, content=content, headers=hdrs)

    def get(self, path: str, **headers: str) -> httpx.Response:
        return self.client.get(path, headers=self.headers(**headers))

    def create_intent(self, value: int = 1000, **fields: Any) -> dict[str, Any]:
        body = {"amount": {"value": value, "currencyCode": "GBP"}, "reference": "Order 234", **fields}
        response = self.post("/payment-intents", body)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def pay(self, intent_id: str, card: dict[str, str] | None = None) -> httpx.Response:
        return self.client.post(f"/checkout/{intent_id}/pay", json=card or SUCCESS_CARD)

    def captured_intent(self, value: int = 1000, **fields: Any) -> str:
        """An Auto intent paid with the success card: Captured for ``value``."""
        intent_id = str(self.create_intent(value, **fields)["id"])
        paid = self.pay(intent_id)
        assert paid.status_code == 200 and paid.json()["status"] == "Captured", paid.text
        return intent_id

    def refund(self, intent_id: str, amount: int, key: str | None = None, **fields: Any) -> httpx.Response:
        body = {"amount": amount, **fields}
        return self.post(
            f"/payment-intents/{intent_id}/refunds", body, IdempotencyKey=key or secrets.token_hex(8)
        )

    def intent(self, intent_id: str) -> dict[str, Any]:
        response = self.get(f"/payment-intents/{intent_id}?returnCanceled=true")
        assert response.status_code == 200, response.text
        return dict(response.json())


def postgres_admin_url() -> str | None:
    return os.environ.get(POSTGRES_ENV) or None


def skip_without_postgres() -> None:
    """Skip a PostgreSQL case without PAYINTENTS_TEST_POSTGRES_URL; fail it instead when
    PAYINTENTS_REQUIRE_POSTGRES is set (CI)."""
    if postgres_admin_url() is None:
        if os.environ.get("PAYINTENTS_REQUIRE_POSTGRES"):
            pytest.fail(f"PAYINTENTS_REQUIRE_POSTGRES is set but {POSTGRES_ENV} is not")
        pytest.skip(f"PostgreSQL case: set {POSTGRES_ENV} to run it")


@contextmanager
def postgres_schema_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    admin = postgres_admin_url()
    if admin is None:
        raise RuntimeError(f"{POSTGRES_ENV} is not set")
    with postgres_scratch_schema(admin, "t") as url:
        yield url


@contextmanager
def backend_database_url(backend: str, folder: Path, name: str = "payintents") -> Iterator[str]:
    """An (unmigrated) database of ``backend``: a SQLite file in ``folder``, or a fresh PostgreSQL
    schema; PostgreSQL cases skip without PAYINTENTS_TEST_POSTGRES_URL, and fail instead when
    PAYINTENTS_REQUIRE_POSTGRES is set (CI)."""
    if backend == "sqlite":
        yield f"sqlite:///{folder / f'{name}.db'}"
        return
    skip_without_postgres()
    with postgres_schema_url() as url:
        yield url


def migrate_database(database_url: str) -> None:
    """Bring the database to the newest schema in this process, as ``payintents migrate`` does
    (that command's own test is tests/e2e/test_cli.py), without a second of imports."""
    engine = make_engine(database_url, pool_size=1)
    try:
        upgrade(engine)
    finally:
        engine.dispose()


@contextmanager
def dependencies_of(database_url: str) -> Iterator[Dependencies]:
    """The server's dependencies on a migrated database, in this process, for set-up."""
    engine = make_engine(database_url, pool_size=1)
    try:
        yield build_dependencies(Settings(database_url=database_url), engine=engine)
    finally:
        engine.dispose()


def new_account(database_url: str, name: str = "test") -> dict[str, str]:
    """A fresh account in a migrated database, made in this process as ``payintents accounts
    create`` makes it and with its keys (that command's own test is tests/e2e/test_cli.py): a
    subprocess would spend about a second importing the server's stack for each account."""
    with dependencies_of(database_url) as deps:
        account = create_account(deps, name)
    return {"accountId": account.account_id, "sandboxKey": account.sandbox_key, "prodKey": account.prod_key}


def new_terminal(database_url: str, account_id: str) -> str:
    """The id of one more sandbox terminal of the account, made in this process as ``payintents
    terminals create`` makes it (that command's own test is tests/e2e/test_terminals_e2e.py)."""
    with dependencies_of(database_url) as deps:
        return create_terminal(deps, account_id, Environment.SANDBOX).id


def cli(database_url: str, *args: str) -> str:
    """Run the ``payintents`` command and return its stdout."""
    done = subprocess.run(
        [sys.executable, "-m", "payintents.cli", *args, "--database", database_url],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout


@dataclass
class RunningServer:
    base_url: str
    database_url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def new_account(self) -> dict[str, str]:
        return new_account(self.database_url)

    def log_problems(self) -> list[str]:
        """Lines of the server log that show a traceback or an unexpected failure."""
        text = self.log_path.read_text(errors="replace")
        markers = ("Traceback", "unexpected failure", "ERROR", '"level": "error"', '"level": "critical"')
        return [line for line in text.splitlines() if any(marker in line for marker in markers)]


@contextmanager
def running_server(
    database_url: str,
    log_dir: Path,
    *,
    workers: int = 2,
    app_module: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Iterator[RunningServer]:
    """Start ``payintents serve`` (or a harness variant) on a free loopback port, with ``env`` on
    top of this process's environment; stop it after."""
    log_path = log_dir / f"server-{secrets.token_hex(4)}.log"
    started_server = processes.running_server(
        database_url, workers, log_path, app_module=app_module, extra_env=env
    )
    with started_server as started:
        yield RunningServer(started.base_url, database_url, started.process, log_path)
