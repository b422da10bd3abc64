"""The gateway SIGKILLed between the upstream's answer to a refund and the record of it
(``tests/harness/gateway_variants.py``), on SQLite and PostgreSQL gateways:

- the real gateway: after a restart, ``payintents reconcile`` (past the operation's deadline)
  records the refund from the upstream, sending it again under the same processor key: one
  refund at the upstream, the same one (Dojo's id, amount) at the gateway, ``payintents audit``
  clean, and the client's retry with its key answers that refund;
- the negative control, a gateway that calls the upstream before reserving: after the same crash
  and reconciliation the upstream holds a refund the gateway knows nothing of, and the same
  comparison catches it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from payintents.adapters.sql.engine import make_engine
from payintents.adapters.sql.schema import money_operations
from payintents.bootstrap import Settings, audit_database
from tests.gateway_support import (
    CLIENT_TIMEOUT_S,
    RefundComparison,
    Upstream,
    add_upstream_account,
    compare_refunds,
    run_gateway_command,
    running_gateway,
    running_upstream,
)
from tests.harness.gateway_variants import CALL_BEFORE_RESERVE, KILL_AFTER_ANSWER, VARIANT_ENV
from tests.support import Api, backend_database_url, migrate_database

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

GATEWAY_ENV = {
    "PAYINTENTS_PROCESSOR_TIMEOUT_S": "2",
    "PAYINTENTS_EXPIRY_INTERVAL_S": "3600",
    "PAYINTENTS_DISPATCHER": "off",
}
VARIANTS_MODULE = "tests.harness.gateway_variants"


@contextmanager
def client(base_url: str, key: str) -> Iterator[Api]:
    with httpx.Client(base_url=base_url, timeout=CLIENT_TIMEOUT_S) as http:
        yield Api(http, key)


def crash_after_the_upstream_answers(
    upstream: Upstream, gateway_url: str, folder: Path, prod_key: str, variants: str
) -> str:
    """A refund through a gateway that dies once the upstream answered it; the intent's id."""
    env = {**GATEWAY_ENV, VARIANT_ENV: variants}
    with running_gateway(gateway_url, folder, env=env, app_module=VARIANTS_MODULE) as dying:
        with client(dying.base_url, prod_key) as api:
            intent_id = str(api.create_intent(1000)["id"])
            assert upstream.api.pay(intent_id).status_code == 200
            with pytest.raises(httpx.TransportError):
                api.refund(intent_id, 400, key="crash-1")
        dying.process.wait(timeout=30)
    return intent_id


def wait_past_every_deadline(database_url: str) -> None:
    """Until the clock is past every pending operation's deadline (a condition, not a sleep)."""
    engine = make_engine(database_url, pool_size=1)
    try:
        with engine.connect() as conn:
            query = select(func.max(money_operations.c.deadline_at)).where(
                money_operations.c.status == "pending"
            )
            deadline = conn.execute(query).scalar()
    finally:
        engine.dispose()
    while deadline is not None and datetime.now(UTC) <= deadline:
        time.sleep(0.1)


def crash_and_reconcile(backend: str, folder: Path, variants: str) -> tuple[RefundComparison, dict[str, int]]:
    with (
        running_upstream(folder) as upstream,
        backend_database_url(backend, folder, "gateway") as gateway_url,
    ):
        migrate_database(gateway_url)
        account = add_upstream_account(gateway_url, upstream.server.base_url, upstream.api.key)
        intent_id = crash_after_the_upstream_answers(
            upstream, gateway_url, folder, account["prodKey"], variants
        )
        wait_past_every_deadline(gateway_url)
        done = run_gateway_command(gateway_url, "reconcile")
        assert done.returncode == 0, done.stderr
        with (
            running_gateway(gateway_url, folder, env=GATEWAY_ENV) as restarted,
            client(restarted.base_url, account["prodKey"]) as api,
        ):
            compared = compare_refunds(upstream.api, api, intent_id)
            if compared.consistent:
                retried = api.refund(intent_id, 400, key="crash-1")
                assert retried.status_code == 200, retried.text
                assert {retried.json()["refundId"]} == compared.upstream_ids
        assert audit_database(Settings(database_url=gateway_url)).ok
        return compared, json.loads(done.stdout)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_crash_after_the_upstream_answered_is_reconciled_to_one_refund(
    backend: str, tmp_path: Path
) -> None:
    compared, reconciled = crash_and_reconcile(backend, tmp_path, KILL_AFTER_ANSWER)
    assert reconciled == {"recorded": 1, "released": 0, "unsettled": 0}
    assert compared.consistent, compared
    assert compared.upstream_total == 400 and len(compared.upstream_ids) == 1


def test_the_comparison_catches_a_gateway_that_calls_the_upstream_before_reserving(tmp_path: Path) -> None:
    compared, reconciled = crash_and_reconcile(
        "sqlite", tmp_path, f"{CALL_BEFORE_RESERVE},{KILL_AFTER_ANSWER}"
    )
    assert reconciled == {"recorded": 0, "released": 0, "unsettled": 0}
    assert not compared.consistent
    assert (compared.upstream_total, compared.gateway_total) == (400, 0)
