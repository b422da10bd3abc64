"""SIGTERM during a burst of refunds: in-flight requests finish, every acknowledged refund is
stored, nothing is half-written, and the server exits cleanly."""

from __future__ import annotations

import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from payintents.adapters.sql.audit import audit
from payintents.adapters.sql.engine import make_engine
from payintents.adapters.sql.schema import refunds
from tests.support import Api, migrate_database, running_server

pytestmark = pytest.mark.e2e
REFUNDS = 40


def test_sigterm_loses_no_acknowledged_refund(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shutdown.db'}"
    migrate_database(url)
    with running_server(url, tmp_path, workers=2) as server:
        key = server.new_account()["sandboxKey"]
        with httpx.Client(base_url=server.base_url, timeout=10) as setup:
            intent_ids = [Api(setup, key).captured_intent(10_000) for _ in range(4)]
        start = threading.Barrier(REFUNDS + 1)

        def refund(i: int) -> str | None:
            with httpx.Client(base_url=server.base_url, timeout=30) as client:
                start.wait()
                try:
                    response = Api(client, key).refund(intent_ids[i % 4], 100, key=f"k{i}")
                except httpx.TransportError:
                    return None
                assert response.status_code in (200, 503), response.text
                return str(response.json()["refundId"]) if response.status_code == 200 else None

        with ThreadPoolExecutor(REFUNDS) as pool:
            futures = [pool.submit(refund, i) for i in range(REFUNDS)]
            start.wait()
            server.process.send_signal(signal.SIGTERM)
            acknowledged = {f.result() for f in futures} - {None}
        assert server.process.wait(timeout=40) == 0

    engine = make_engine(url)
    report = audit(engine)
    with engine.connect() as conn:
        stored = set(conn.execute(select(refunds.c.id)).scalars())
    engine.dispose()
    assert report.ok, report.as_dict()
    assert acknowledged <= stored
    print(f"acknowledged={len(acknowledged)} stored={len(stored)} of {REFUNDS}")
