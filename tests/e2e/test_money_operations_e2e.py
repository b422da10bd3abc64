"""Two-phase money operations against a real ``payintents serve`` (ADR 0026), on both stores:

- SIGKILL after the sandbox processor applied a refund (or a capture) and before the server
  recorded it: after a restart, ``payintents reconcile`` records it once, the processor's ledger
  holds exactly one entry (one call), the amounts are right, ``payintents audit`` is clean, and a
  retry with the same idempotency key answers 200 with the same refund (or capture).
- A retry with the same key while the operation is pending waits for it and answers its result,
  without a second processor call.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from payintents.testbed.processes import free_port, serve_command
from tests.support import Api, cli, new_account

pytestmark = [pytest.mark.e2e]

# Short enough that the test waits little for the deadline, longer than the moment before the kill.
PROCESSOR_TIMEOUT_S = "4"
SLOW_MS = 20_000


@contextmanager
def serving(
    database_url: str, log_path: Path, key: str | None = None
) -> Iterator[tuple[subprocess.Popen[bytes], Api]]:
    """``payintents serve`` in its own session (so SIGKILL reaches its workers too), with a short
    processor timeout and no housekeeping pass during the test (reconcile is run by hand); a
    client with ``key``, or with a new account's sandbox key."""
    port = free_port()
    env = {
        **os.environ,
        "PAYINTENTS_DATABASE_URL": database_url,
        "PAYINTENTS_PROCESSOR_TIMEOUT_S": PROCESSOR_TIMEOUT_S,
        "PAYINTENTS_EXPIRY_INTERVAL_S": "3600",
        "PAYINTENTS_DISPATCHER": "off",
    }
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            serve_command(port, 1), stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    try:
        base_url = f"http://127.0.0.1:{port}"
        _wait_healthy(base_url, process)
        key = key or new_account(database_url, "crash")["sandboxKey"]
        with httpx.Client(base_url=base_url, timeout=30) as client:
            yield process, Api(client, key)
    finally:
        if process.poll() is None:
            kill(process)


def _wait_healthy(base_url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "the server exited early"
        try:
            if httpx.get(f"{base_url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError("the server did not become healthy")


def kill(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def rows(database_url: str, sql: str, **params: Any) -> list[Any]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql), params).all())
    finally:
        engine.dispose()


def ledger_entries(database_url: str, intent_id: str) -> int:
    sql = "SELECT count(*) FROM sandbox_processor_ledger WHERE payment_intent_id = :intent_id"
    return int(rows(database_url, sql, intent_id=intent_id)[0][0])


def wait_for_ledger(database_url: str, intent_id: str) -> None:
    deadline = time.monotonic() + 20
    while ledger_entries(database_url, intent_id) == 0:
        assert time.monotonic() < deadline, "the processor never received the operation"
        time.sleep(0.02)


def send_in_background(call: Any) -> threading.Thread:
    """Send a request the server will never answer (it is killed meanwhile)."""

    def send() -> None:
        with suppress(httpx.TransportError):
            call()

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


def reconcile_after_deadline(database_url: str) -> dict[str, int]:
    """``payintents reconcile`` as a person types it, once the pending operation's deadline passed."""
    (deadline_at,) = rows(
        database_url, "SELECT max(deadline_at) FROM money_operations WHERE status = 'pending'"
    )[0]
    deadline = datetime.fromisoformat(str(deadline_at)).replace(tzinfo=UTC)
    time.sleep(max(0.0, (deadline - datetime.now(UTC)).total_seconds()) + 0.2)
    return dict(json.loads(cli(database_url, "reconcile")))


def audit_is_clean(database_url: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "payintents.cli", "audit", "--database", database_url],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout


def fail_next(api: Api, intent_id: str, operation: str, delay_ms: int) -> None:
    body = {"operation": operation, "outcome": "slow", "delayMs": delay_ms}
    assert api.post(f"/sandbox/payment-intents/{intent_id}/fail-next", body).status_code == 200


def capture(api: Api, intent_id: str, amount: int, key: str) -> httpx.Response:
    return api.post(f"/payment-intents/{intent_id}/captures", {"amount": amount}, IdempotencyKey=key)


def authorized_manual(api: Api) -> str:
    intent_id = str(api.create_intent(1000, captureMode="Manual")["id"])
    assert api.pay(intent_id).json()["status"] == "Authorized"
    return intent_id


def test_a_refund_applied_before_a_sigkill_is_recorded_once_by_reconcile(
    database_url: str, tmp_path: Path
) -> None:
    log = tmp_path / "server.log"
    with serving(database_url, log) as (process, api):
        intent_id = api.captured_intent(1000)
        fail_next(api, intent_id, "refund", SLOW_MS)
        send_in_background(lambda: api.refund(intent_id, 300, key="refund-1"))
        wait_for_ledger(database_url, intent_id)
        kill(process)
    (pending,) = rows(database_url, "SELECT pending_refund_amount, refunded_amount FROM payment_intents")
    assert tuple(pending) == (300, 0)
    audit_is_clean(database_url)  # a pending refund is reserved, not refunded

    assert reconcile_after_deadline(database_url) == {"recorded": 1, "released": 0, "unsettled": 0}
    assert ledger_entries(database_url, intent_id) == 1
    audit_is_clean(database_url)
    with serving(database_url, log, api.key) as (_process, api):
        assert api.intent(intent_id)["refundedAmount"] == 300
        listed = api.get(f"/payment-intents/{intent_id}/refunds").json()["data"]
        assert [r["amount"] for r in listed] == [300]
        retried = api.refund(intent_id, 300, key="refund-1")
        assert retried.status_code == 200, retried.text
        assert retried.json()["refundId"] == listed[0]["refundId"]
        assert retried.headers["idempotent-replayed"] == "true"
        assert api.intent(intent_id)["refundedAmount"] == 300
    assert ledger_entries(database_url, intent_id) == 1


def test_a_capture_applied_before_a_sigkill_is_recorded_once_by_reconcile(
    database_url: str, tmp_path: Path
) -> None:
    log = tmp_path / "server.log"
    with serving(database_url, log) as (process, api):
        intent_id = authorized_manual(api)
        fail_next(api, intent_id, "capture", SLOW_MS)
        send_in_background(lambda: capture(api, intent_id, 400, "capture-1"))
        wait_for_ledger(database_url, intent_id)
        kill(process)
    audit_is_clean(database_url)

    assert reconcile_after_deadline(database_url) == {"recorded": 1, "released": 0, "unsettled": 0}
    assert ledger_entries(database_url, intent_id) == 1
    audit_is_clean(database_url)
    with serving(database_url, log, api.key) as (_process, api):
        intent = api.intent(intent_id)
        assert (intent["status"], [c["amount"] for c in intent["captures"]]) == ("Captured", [400])
        retried = capture(api, intent_id, 400, "capture-1")
        assert retried.status_code == 200, retried.text
        assert retried.json()["captureId"] == intent["captures"][0]["id"]
        assert [c["amount"] for c in api.intent(intent_id)["captures"]] == [400]
    assert ledger_entries(database_url, intent_id) == 1


def test_a_retry_while_pending_waits_and_answers_the_result(database_url: str, tmp_path: Path) -> None:
    with serving(database_url, tmp_path / "server.log") as (_process, api):
        intent_id = api.captured_intent(1000)
        fail_next(api, intent_id, "refund", 1500)
        answers: list[httpx.Response] = []
        first = threading.Thread(target=lambda: answers.append(api.refund(intent_id, 300, key="r-1")))
        first.start()
        wait_for_ledger(database_url, intent_id)
        retried = api.refund(intent_id, 300, key="r-1")
        first.join(timeout=30)
        assert retried.status_code == 200, retried.text
        assert [a.status_code for a in answers] == [200]
        assert retried.content == answers[0].content
        assert api.intent(intent_id)["refundedAmount"] == 300
    assert ledger_entries(database_url, intent_id) == 1
    audit_is_clean(database_url)
