"""Per-key rate limiting in a real ``payintents serve`` with 2 worker processes (ADR 0008), on
SQLite and PostgreSQL: ``PAYINTENTS_RATE_LIMIT`` limits production keys with 429 and
``Retry-After``, a limited refund stores nothing, other keys and sandbox keys (off by default) are
unaffected, the limit holds per worker process, and a malformed setting stops ``serve`` at start."""

from __future__ import annotations

import math
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.pool import NullPool

from payintents.adapters.sql.engine import normalise_url
from payintents.adapters.sql.schema import refunds
from payintents.testbed.processes import free_port
from tests.conftest import BACKENDS
from tests.support import Api, RunningServer, backend_database_url, running_server

pytestmark = pytest.mark.e2e

WORKERS = 2
RATE_PER_S = 0.2  # one token every 5 s: nothing refills within a few quick requests
BURST = 3


@pytest.fixture(scope="module", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    """One server per store for the module: each test uses keys of new accounts (a bucket each)."""
    folder = tmp_path_factory.mktemp(f"rate-limit-{request.param}")
    with pytest.MonkeyPatch.context() as env, backend_database_url(request.param, folder) as url:
        env.setenv("PAYINTENTS_RATE_LIMIT", f"{RATE_PER_S}/s burst {BURST}")
        env.delenv("PAYINTENTS_SANDBOX_RATE_LIMIT", raising=False)
        with running_server(url, folder, workers=WORKERS) as running:
            yield running


def refund_count(database_url: str) -> int:
    engine = create_engine(normalise_url(database_url), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(refunds)).scalar_one())
    finally:
        engine.dispose()


def test_a_production_key_over_its_limit_gets_429_and_its_refund_stores_nothing(
    server: RunningServer,
) -> None:
    account = server.new_account()
    # One keep-alive connection: every request reaches the same worker, so one bucket.
    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        prod = Api(http, account["prodKey"])
        intent_id = prod.captured_intent(1000)  # 1 token (the checkout takes no key)
        assert [prod.get("/payment-intents/pi_missing").status_code for _ in range(BURST - 1)] == [404, 404]
        refused = prod.refund(intent_id, 400, key=secrets.token_hex(8))
        assert refused.status_code == 429, refused.text
        assert 1 <= int(refused.headers["Retry-After"]) <= math.ceil(1 / RATE_PER_S)
        body = refused.json()
        assert body["status"] == 429 and body["title"] == "Too Many Requests"
        assert set(body) == {"type", "title", "status", "detail", "traceId"}
        assert refund_count(server.database_url) == 0

        sandbox = Api(http, account["sandboxKey"])  # sandbox keys: unlimited by default
        assert {sandbox.get("/payment-intents/pi_missing").status_code for _ in range(10)} == {404}
        other = Api(http, server.new_account()["prodKey"])
        assert other.get("/payment-intents/pi_missing").status_code == 404
        assert prod.get("/payment-intents/pi_missing").status_code == 429


def test_the_limit_holds_per_worker_process(server: RunningServer) -> None:
    key = server.new_account()["prodKey"]
    started = time.monotonic()
    # A fresh connection per request, so the kernel spreads them over both workers.
    with httpx.Client(
        base_url=server.base_url, timeout=10, limits=httpx.Limits(max_keepalive_connections=0)
    ) as http:
        statuses = [Api(http, key).get("/payment-intents/pi_missing").status_code for _ in range(20)]
    refilled = math.floor((time.monotonic() - started) * RATE_PER_S)
    admitted = statuses.count(404)
    assert set(statuses) <= {404, 429}
    # At least one worker's burst, at most every worker's burst (plus what refilled meanwhile).
    assert BURST <= admitted <= WORKERS * (BURST + refilled), statuses


@pytest.mark.parametrize("variable", ["PAYINTENTS_RATE_LIMIT", "PAYINTENTS_SANDBOX_RATE_LIMIT"])
def test_a_malformed_limit_stops_serve_at_start_with_a_clear_message(variable: str, tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'never.db'}"
    done = subprocess.run(
        [sys.executable, "-m", "payintents.cli", "serve", "--port", str(free_port())],
        env={"PATH": "/usr/bin:/bin", "PAYINTENTS_DATABASE_URL": database_url, variable: "lots"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"payintents: {variable} must be 'off' or '<requests>/s [burst <n>]' (requests > 0, n >= 1), "
        "e.g. '100/s burst 200', not 'lots'"
    )
    assert not (tmp_path / "never.db").exists()  # refused before touching the database
