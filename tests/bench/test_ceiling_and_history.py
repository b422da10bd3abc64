"""The benchmark's own parts on real databases: the bare-SQL ceiling applies refunds exactly like
the guarded write path (and refuses what does not fit), and the growth history is a consistent
copy of what the server wrote (``payintents audit`` stays clean)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from payintents.adapters.sql.audit import audit
from payintents.adapters.sql.engine import make_engine
from payintents.adapters.sql.schema import (
    idempotency_keys,
    money_operations,
    outbox_events,
    payment_intents,
    refunds,
    sandbox_processor_ledger,
)
from payintents.benchmark import history
from payintents.benchmark.ceiling import WorkerFactory, one_transaction_worker, prepare_database, run_ceiling
from payintents.benchmark.two_phase_ceiling import two_phase_worker
from payintents.service.dependencies import Dependencies
from tests.support import Api


def _count(url: str, table: object, *where: object) -> int:
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as conn:
            query = select(func.count()).select_from(table).where(*where)  # type: ignore[arg-type]
            return int(conn.execute(query).scalar_one())
    finally:
        engine.dispose()


@pytest.mark.parametrize("worker", [one_transaction_worker, two_phase_worker], ids=["one", "two_phase"])
@pytest.mark.parametrize("concurrency", [1, 4])
def test_ceiling_refunds_are_applied_once_and_capped(
    database_url: str, concurrency: int, worker: WorkerFactory
) -> None:
    # Two intents of 500; 60 refunds of 1..50 round-robin (about 750 each): more than fits.
    ids = prepare_database(database_url, intents=2, capacity=500)
    result = run_ceiling(database_url, ids, range(60), concurrency, max_amount=50, worker=worker)
    engine = make_engine(database_url, pool_size=1)
    try:
        with engine.connect() as conn:
            stored = conn.execute(select(func.count()).select_from(refunds)).scalar_one()
            refunded = conn.execute(select(func.sum(payment_intents.c.refunded_amount))).scalar_one()
            stored_amounts = conn.execute(select(func.sum(refunds.c.amount))).scalar_one()
        report = audit(engine)
        assert report.ok, [f for f in report.findings if f.count]
    finally:
        engine.dispose()
    assert result.transactions == 60
    assert result.failures > 0  # the cap refused some: the guard is really in the statement
    assert stored == 60 - result.failures
    # Each intent stopped within 50 of its 500: refused refunds were the ones that did not fit.
    assert refunded == stored_amounts and 2 * (500 - 50) < refunded <= 2 * 500


def test_two_phase_ceiling_leaves_what_the_server_would(database_url: str) -> None:
    # Every applied refund went through a succeeded operation and one ledger entry; nothing is left
    # reserved; only applied refunds spent their keys; the audit's two-phase invariants hold (the
    # test above).
    ids = prepare_database(database_url, intents=2, capacity=500)
    result = run_ceiling(database_url, ids, range(60), 4, max_amount=50, worker=two_phase_worker)
    applied = 60 - result.failures
    assert _count(database_url, money_operations, money_operations.c.status == "succeeded") == applied
    assert _count(database_url, money_operations) == applied
    assert _count(database_url, sandbox_processor_ledger) == applied
    assert _count(database_url, payment_intents, payment_intents.c.pending_refund_amount != 0) == 0
    answered = idempotency_keys.c.response_body.is_not(None)
    assert _count(database_url, idempotency_keys, answered) == applied
    # A refused refund's key is left unspent, as the server leaves it.
    assert result.failures > 0 and _count(database_url, idempotency_keys) == applied


def test_history_copies_are_consistent(
    api: Api, client: TestClient, deps: Dependencies, database_url: str
) -> None:
    template = api.captured_intent(10_000)
    for n in range(3):
        assert api.refund(template, 100 + n, key=f"history-{n}").status_code == 200
    engine = make_engine(database_url, pool_size=1)
    try:
        added = history.copy_template(engine, template, copies=25)
        history.refresh_statistics(engine)
        report = audit(engine)
    finally:
        engine.dispose()
    assert added["payment_intents"] == 25 and added["refunds"] == 75
    assert added["outbox_events"] == 25 * _count(
        database_url, outbox_events, outbox_events.c.payment_intent_id == template
    )
    assert _count(database_url, idempotency_keys) >= 75
    assert report.ok, report.as_dict()
    assert report.refunds_checked == 78
