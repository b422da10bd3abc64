"""``payintents audit`` finds every kind of broken money invariant, and nothing on a sound database."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from sqlalchemy import text

from payintents.adapters.sql.audit import audit
from payintents.adapters.sql.engine import make_engine
from tests.support import Api


def _violations(database_url: str) -> dict[str, int]:
    engine = make_engine(database_url, pool_size=1)
    try:
        report = audit(engine)
    finally:
        engine.dispose()
    return {f.invariant: f.count for f in report.findings if f.count}


def _run_sql(database_url: str, statement: str, **params: object) -> None:
    engine = make_engine(database_url, pool_size=1)
    with engine.begin() as conn:
        conn.execute(text(statement), params)
    engine.dispose()


@pytest.fixture
def refunded_intent(api: Api) -> str:
    intent_id = api.captured_intent(1000)
    assert api.refund(intent_id, 300).status_code == 200
    assert api.refund(intent_id, 700).status_code == 200
    api.captured_intent(500)
    return intent_id


def test_a_sound_database_passes(database_url: str, refunded_intent: str) -> None:
    assert _violations(database_url) == {}
    done = subprocess.run(
        [sys.executable, "-m", "payintents.cli", "audit", "--database", database_url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] is True and report["refundsChecked"] == 2


def test_a_lost_refund_row_is_reported(database_url: str, refunded_intent: str) -> None:
    _run_sql(database_url, "DELETE FROM refunds WHERE amount = 300")
    # The refund's operation says it succeeded, and its refund is gone: reported as well.
    assert _violations(database_url) == {
        "REFUNDED_IS_SUM_OF_REFUNDS": 1,
        "EVENT_HAS_REFUND": 1,
        "SUCCEEDED_IS_RECORDED": 1,
    }
    done = subprocess.run(
        [sys.executable, "-m", "payintents.cli", "audit", "--database", database_url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert report["invariants"]["REFUNDED_IS_SUM_OF_REFUNDS"]["examples"] == [refunded_intent]


def test_a_missing_outbox_event_is_reported(database_url: str, refunded_intent: str) -> None:
    _run_sql(
        database_url,
        "DELETE FROM outbox_events WHERE name = 'refund.created' AND payload LIKE :pattern",
        pattern='%"amount":300,%',
    )
    assert _violations(database_url) == {"REFUND_HAS_ONE_EVENT": 1}


def test_a_stray_capture_and_a_wrong_status_are_reported(database_url: str, refunded_intent: str) -> None:
    _run_sql(
        database_url,
        "UPDATE payment_intents SET status = 'Captured' WHERE id = :id",
        id=refunded_intent,
    )
    _run_sql(database_url, "DELETE FROM captures WHERE payment_intent_id <> :id", id=refunded_intent)
    assert _violations(database_url) == {"REFUNDED_STATUS": 1, "REFUNDABLE_IS_CAPTURED": 1}
