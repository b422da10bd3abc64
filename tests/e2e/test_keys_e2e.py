"""API keys against a real ``payintents serve`` with two worker processes, on SQLite and
PostgreSQL: ``payintents keys revoke`` makes the key answer 401 at once on every worker and ends
the dashboard session it signed in; ``keys list`` shows when a key was last used, written by the
workers in the background."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.pool import NullPool

from payintents.adapters.sql.engine import normalise_url
from payintents.adapters.sql.schema import api_keys
from tests.dashboard.support import hidden, payintents
from tests.support import Api, RunningServer, running_server

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# Enough fresh connections that both workers answer some (the kernel spreads them).
REQUESTS = 20


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[RunningServer]:
    with running_server(database_url, tmp_path, workers=2) as running:
        yield running


@pytest.fixture
def one_worker(database_url: str, tmp_path: Path) -> Iterator[RunningServer]:
    with running_server(database_url, tmp_path, workers=1) as running:
        yield running


def _statuses(server: RunningServer, key: str) -> set[int]:
    fresh = httpx.Limits(max_keepalive_connections=0)
    with httpx.Client(base_url=server.base_url, timeout=30, limits=fresh) as http:
        return {Api(http, key).get("/payment-intents/pi_missing").status_code for _ in range(REQUESTS)}


def _last_used(database_url: str, key_id: str) -> object:
    engine = create_engine(normalise_url(database_url), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return conn.execute(select(api_keys.c.last_used_at).where(api_keys.c.id == key_id)).scalar_one()
    finally:
        engine.dispose()


def test_a_revoked_key_is_refused_by_every_worker_at_once(server: RunningServer) -> None:
    account = server.new_account()
    created = payintents(
        server.database_url, "keys", "create", account["accountId"], "--environment", "sandbox"
    )
    assert created.returncode == 0, created.stderr
    new = json.loads(created.stdout)
    assert _statuses(server, new["key"]) == {404}
    with httpx.Client(base_url=server.base_url, timeout=30) as browser:
        token = hidden(browser.get("/dashboard/sign-in").text, "csrf_token")
        form = {"csrf_token": token, "method": "key", "api_key": new["key"]}
        assert browser.post("/dashboard/sign-in", data=form).status_code == 303
        assert browser.get("/dashboard/payments").status_code == 200

        revoked = payintents(server.database_url, "keys", "revoke", new["keyId"])
        assert revoked.returncode == 0, revoked.stderr
        assert "1 dashboard session ended" in revoked.stdout
        assert _statuses(server, new["key"]) == {401}
        assert browser.get("/dashboard/payments").status_code == 303
    assert _statuses(server, account["sandboxKey"]) == {404}  # the account's other keys carry on
    assert server.log_problems() == []


def test_keys_list_shows_when_a_key_was_last_used(one_worker: RunningServer) -> None:
    server = one_worker
    account = server.new_account()
    assert _statuses(server, account["prodKey"]) == {404}
    listing = json.loads(
        payintents(server.database_url, "keys", "list", account["accountId"], "--json").stdout
    )
    prod_id = next(row["keyId"] for row in listing if row["environment"] == "production")
    deadline = time.monotonic() + 30  # the workers write every 5 s
    while _last_used(server.database_url, prod_id) is None and time.monotonic() < deadline:
        time.sleep(0.5)
    listing = json.loads(
        payintents(server.database_url, "keys", "list", account["accountId"], "--json").stdout
    )
    used = {row["environment"]: row["lastUsedAt"] for row in listing}
    assert used["sandbox"] == "never" and used["production"].endswith(" UTC")
