"""Refunds through the gateway while the upstream fails on demand (its ``fail-next``, armed on
the upstream's intent with the upstream's own key), on SQLite and PostgreSQL gateways:

- declined at the upstream → 400 with the upstream's detail, nothing reserved, the key unspent;
- processor_error at the upstream → 502, nothing reserved, the key unspent;
- slow beyond the gateway's processor timeout → 504 with the operation pending; a retry with the
  same key once the deadline has passed settles it from the upstream (the refund sent again under
  the same processor key, which the upstream applies once) and answers the refund: exactly one
  refund at the upstream, with the id the gateway answers;
- a capture slow beyond the timeout → 504; the retry past the deadline finds it captured at the
  upstream and records it under the upstream's capture id (the mirror then never adds it twice);
- afterwards the store passes ``payintents audit`` and ``payintents reconcile --account`` finds
  no difference between the gateway and the upstream.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from payintents.bootstrap import Settings, audit_database
from tests.gateway_support import GatewayPair, gateway_pair, run_gateway_command

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.xdist_group("gateway_faults")]

PROCESSOR_TIMEOUT_S = 2.0
# Past the gateway's deadline (timeout + 2 s margin) and below the upstream's own timeout.
SLOW_MS = 5_000
GATEWAY_ENV = {
    "PAYINTENTS_PROCESSOR_TIMEOUT_S": str(PROCESSOR_TIMEOUT_S),
    "PAYINTENTS_EXPIRY_INTERVAL_S": "3600",
    "PAYINTENTS_DISPATCHER": "off",
}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def pair(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayPair]:
    folder = tmp_path_factory.mktemp(f"gateway-faults-{request.param}")
    with gateway_pair(request.param, folder, gateway_env=GATEWAY_ENV) as started:
        yield started


def fail_next_at_upstream(pair: GatewayPair, intent_id: str, outcome: str, **extra: Any) -> None:
    body = {"operation": "refund", "outcome": outcome, **extra}
    armed = pair.at_upstream.post(f"/sandbox/payment-intents/{intent_id}/fail-next", body)
    assert armed.status_code == 200, armed.text


def upstream_refunds(pair: GatewayPair, intent_id: str) -> list[tuple[str, int]]:
    listed = pair.at_upstream.get(f"/payment-intents/{intent_id}/refunds").json()["data"]
    return [(str(r["refundId"]), int(r["amount"])) for r in listed]


def gateway_operations(pair: GatewayPair, intent_id: str) -> list[str]:
    engine = create_engine(pair.gateway.database_url)
    try:
        with engine.connect() as conn:
            sql = "SELECT status FROM money_operations WHERE payment_intent_id = :id ORDER BY created_at"
            return [row[0] for row in conn.execute(text(sql), {"id": intent_id})]
    finally:
        engine.dispose()


def reserved_nothing(pair: GatewayPair, intent_id: str) -> bool:
    """The mirror holds no refund, and the whole amount can still be reserved (read back from the
    full refund that then succeeds is left to the caller)."""
    mirrored = pair.at_gateway.intent(intent_id)
    return mirrored["refundedAmount"] == 0 and mirrored["status"] == "Captured"


@pytest.mark.parametrize("outcome, status", [("declined", 400), ("processor_error", 502)])
def test_an_upstream_refusal_reserves_nothing_and_leaves_the_key_unspent(
    pair: GatewayPair, outcome: str, status: int
) -> None:
    intent_id = pair.captured_intent(1000)
    fail_next_at_upstream(pair, intent_id, outcome)
    refused = pair.at_gateway.refund(intent_id, 1000, key=f"k-{outcome}")
    assert refused.status_code == status, refused.text
    assert "fail-next" in refused.json()["detail"]  # the upstream's own detail
    assert reserved_nothing(pair, intent_id) and upstream_refunds(pair, intent_id) == []
    assert gateway_operations(pair, intent_id) == ["failed"]
    retried = pair.at_gateway.refund(intent_id, 1000, key=f"k-{outcome}")
    assert retried.status_code == 200, retried.text
    assert upstream_refunds(pair, intent_id) == [(retried.json()["refundId"], 1000)]


def test_a_slow_upstream_answers_504_then_the_retry_settles_it_once(pair: GatewayPair) -> None:
    intent_id = pair.captured_intent(1000)
    fail_next_at_upstream(pair, intent_id, "slow", delayMs=SLOW_MS)
    started = time.monotonic()
    timed_out = pair.at_gateway.refund(intent_id, 400, key="slow-1")
    assert timed_out.status_code == 504, timed_out.text
    assert PROCESSOR_TIMEOUT_S <= time.monotonic() - started < SLOW_MS / 1000
    assert gateway_operations(pair, intent_id) == ["pending"]
    # The retry waits for the deadline, then asks the upstream (sending the refund again under
    # the same processor key) and answers what it did.
    settled = pair.at_gateway.refund(intent_id, 400, key="slow-1")
    assert settled.status_code == 200, settled.text
    assert settled.headers.get("Idempotent-Replayed") == "true"
    assert upstream_refunds(pair, intent_id) == [(settled.json()["refundId"], 400)]
    assert gateway_operations(pair, intent_id) == ["succeeded"]
    assert pair.at_gateway.intent(intent_id)["refundedAmount"] == 400


def test_a_slow_capture_answers_504_then_is_settled_under_the_upstreams_capture_id(pair: GatewayPair) -> None:
    intent_id = str(pair.at_gateway.create_intent(900, captureMode="Manual")["id"])
    assert pair.at_upstream.pay(intent_id).json()["status"] == "Authorized"
    # Applied at the upstream at once, recorded there (and so visible) after 3 s: before the
    # gateway's deadline (2 s + 2 s), after its timeout.
    armed = pair.at_upstream.post(
        f"/sandbox/payment-intents/{intent_id}/fail-next",
        {"operation": "capture", "outcome": "slow", "delayMs": 3000},
    )
    assert armed.status_code == 200, armed.text
    path = f"/payment-intents/{intent_id}/captures"
    timed_out = pair.at_gateway.post(path, {"amount": 900}, IdempotencyKey="capture-1")
    assert timed_out.status_code == 504, timed_out.text
    settled = pair.at_gateway.post(path, {"amount": 900}, IdempotencyKey="capture-1")
    assert settled.status_code == 200, settled.text
    upstream_captures = [c["id"] for c in pair.at_upstream.intent(intent_id)["captures"]]
    assert upstream_captures == [settled.json()["captureId"]]
    mirrored = pair.at_gateway.intent(intent_id)
    assert (mirrored["status"], [c["id"] for c in mirrored["captures"]]) == ("Captured", upstream_captures)


def test_the_gateway_store_is_clean_and_agrees_with_the_upstream_after_the_faults(pair: GatewayPair) -> None:
    report = audit_database(Settings(database_url=pair.gateway.database_url))
    assert report.ok, report.as_dict()
    assert pair.gateway.log_problems() == []
    # Every intent this gateway saw, compared with the upstream: no difference. (A slow module's
    # tests are spread over test processes, each with its own pair: this one may have seen none.)
    compared = run_gateway_command(
        pair.gateway.database_url, "reconcile", "--account", pair.account_id, "--json"
    )
    assert compared.returncode == 0, compared.stdout + compared.stderr
    found = json.loads(compared.stdout)
    assert found["differences"] == [] and found["notCompared"] == []
