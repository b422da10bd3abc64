"""A lock held elsewhere turns into a clear 503 with Retry-After, never a hang or a 500,
and the request can be retried with the same key once the lock is gone."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from payintents.adapters.sql.engine import Timeouts, make_engine
from payintents.bootstrap import Settings, build_dependencies
from payintents.service.accounts import create_account
from payintents.web.app import build_app
from tests.support import Api

SHORT_LOCK_MS = 200


@pytest.fixture
def impatient_api(database_url: str) -> Iterator[Api]:
    engine = make_engine(database_url, pool_size=2, timeouts=Timeouts(lock_ms=SHORT_LOCK_MS))
    deps = build_dependencies(Settings(database_url=database_url), engine=engine)
    with TestClient(build_app(deps)) as client:
        yield Api(client, create_account(deps, "impatient").sandbox_key)
    engine.dispose()


def _hold_lock(database_url: str, intent_id: str) -> Iterator[None]:
    """Hold the write lock (SQLite) or the intent's row lock (PostgreSQL) until resumed."""
    engine = make_engine(database_url, pool_size=1)
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT id FROM payment_intents WHERE id = :id FOR UPDATE"), {"id": intent_id})
        else:
            # The engine's begin hook already issued BEGIN IMMEDIATE: touching the row keeps it.
            conn.execute(text("UPDATE payment_intents SET id = id WHERE id = :id"), {"id": intent_id})
        yield
        conn.rollback()
    engine.dispose()


def test_locked_intent_answers_503_and_the_retry_succeeds(database_url: str, impatient_api: Api) -> None:
    intent_id = impatient_api.captured_intent(1000)
    holder = _hold_lock(database_url, intent_id)
    next(holder)
    busy = impatient_api.refund(intent_id, 300, key="retry-me")
    assert busy.status_code == 503, busy.text
    assert busy.headers["Retry-After"] == "1"
    body = busy.json()
    assert body["status"] == 503 and "retry" in body["detail"]
    assert "SELECT" not in busy.text and "Traceback" not in busy.text
    next(holder, None)

    retried = impatient_api.refund(intent_id, 300, key="retry-me")
    assert retried.status_code == 200, retried.text
    assert "Idempotent-Replayed" not in retried.headers
    assert impatient_api.intent(intent_id)["refundedAmount"] == 300


def test_an_unreachable_database_answers_503_to_every_authenticated_request() -> None:
    # Nothing listens on port 1: connecting fails at once, as when PostgreSQL is down or restarts.
    url = "postgresql://postgres@127.0.0.1:1/test"
    engine = make_engine(url, pool_size=1, timeouts=Timeouts(lock_ms=SHORT_LOCK_MS))
    deps = build_dependencies(Settings(database_url=url), engine=engine)
    key = {"Authorization": "Basic sk_sandbox_" + "a" * 40, "Version": "2024-02-05"}
    with TestClient(build_app(deps)) as client:
        for answer in (
            client.get("/payment-intents/pi_x", headers=key),
            client.post(
                "/payment-intents/pi_x/refunds", headers={**key, "IdempotencyKey": "k1"}, json={"amount": 1}
            ),
        ):
            assert answer.status_code == 503, answer.text
            assert answer.headers["Retry-After"] == "1"
            assert answer.json()["status"] == 503
            assert "Traceback" not in answer.text and "psycopg" not in answer.text
    engine.dispose()
