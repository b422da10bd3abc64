"""A processor that does not answer in time (ADR 0026), on both stores.

- It applied the refund, its answer is late (fail-next "slow" beyond the processor timeout): the
  request answers 504 in Dojo's error shape and the refund stays pending, reserved but not
  refunded; after the deadline the reconciler asks the processor, records the refund once, and a
  retry with the same key answers it. Never both released and recorded.
- It never received the call (the server stopped between reserve and call, in effect): the
  reconciler releases the reservation, and the key is unspent: a retry refunds anew.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from payintents.adapters.sandbox_processor import SandboxProcessor
from payintents.adapters.sql.audit import audit
from payintents.adapters.sql.engine import make_engine
from payintents.domain.money_operation import MoneyOperation
from payintents.service.accounts import create_account
from payintents.service.dependencies import Dependencies
from payintents.service.money_operations import DEADLINE_MARGIN
from payintents.service.reconciler import ReconcileReport, reconcile_overdue
from payintents.web.app import build_app
from tests.support import Api

TIMEOUT_S = 0.3


class UnreachableProcessor(SandboxProcessor):
    """Calls never arrive: the processor's ledger never hears of them."""

    async def perform(self, operation: MoneyOperation) -> None:
        await asyncio.sleep(3600)


def client_of(deps: Dependencies, **changes: Any) -> Iterator[Api]:
    quick = dataclasses.replace(deps, processor_timeout_s=TIMEOUT_S, **changes)
    app = build_app(quick)
    with TestClient(app, base_url="http://testserver") as client:
        yield Api(client, create_account(deps, "timeouts").sandbox_key)


class SilentProcessor(UnreachableProcessor):
    """Calls never arrive, and asked about one, it never answers (a Dojo that hangs)."""

    async def lookup(self, operation: MoneyOperation) -> None:
        await asyncio.sleep(3600)


@pytest.fixture
def late_api(deps: Dependencies) -> Iterator[Api]:
    """A client of a server whose processor timeout is ``TIMEOUT_S``."""
    yield from client_of(deps)


@pytest.fixture
def unreachable_api(deps: Dependencies) -> Iterator[Api]:
    """A client of a server whose processor never receives a call."""
    yield from client_of(deps, processor=UnreachableProcessor())


def reconcile_after_deadline(deps: Dependencies) -> ReconcileReport:
    time.sleep(TIMEOUT_S + DEADLINE_MARGIN.total_seconds() + 0.2)
    return asyncio.run(reconcile_overdue(dataclasses.replace(deps, processor_timeout_s=TIMEOUT_S)))


def audit_findings(database_url: str) -> dict[str, int]:
    engine = make_engine(database_url, pool_size=1)
    try:
        return {f.invariant: f.count for f in audit(engine).findings if f.count}
    finally:
        engine.dispose()


def refunds_of(api: Api, intent_id: str) -> list[dict[str, Any]]:
    return list(api.get(f"/payment-intents/{intent_id}/refunds").json()["data"])


def test_a_late_answer_is_504_and_the_reconciler_records_the_refund_once(
    late_api: Api, deps: Dependencies, database_url: str
) -> None:
    api = late_api
    intent_id = api.captured_intent(1000)
    slow = {"operation": "refund", "outcome": "slow", "delayMs": 2000}
    assert api.post(f"/sandbox/payment-intents/{intent_id}/fail-next", slow).status_code == 200
    timed_out = api.refund(intent_id, 300, key="late-1")
    assert timed_out.status_code == 504, timed_out.text
    body = timed_out.json()
    assert (body["status"], body["title"]) == (504, "Gateway Timeout") and body["traceId"]
    assert (api.intent(intent_id)["refundedAmount"], refunds_of(api, intent_id)) == (0, [])
    assert audit_findings(database_url) == {}

    assert reconcile_after_deadline(deps) == ReconcileReport(succeeded=1, released=0, unsettled=0)
    assert api.intent(intent_id)["refundedAmount"] == 300
    (refund,) = refunds_of(api, intent_id)
    retried = api.refund(intent_id, 300, key="late-1")
    assert retried.status_code == 200 and retried.headers["idempotent-replayed"] == "true"
    assert retried.json()["refundId"] == refund["refundId"]
    assert api.intent(intent_id)["refundedAmount"] == 300
    assert audit_findings(database_url) == {}


def test_a_call_that_never_arrived_is_released_and_its_key_stays_unspent(
    unreachable_api: Api, api: Api, deps: Dependencies, database_url: str
) -> None:
    intent_id = unreachable_api.captured_intent(1000)
    assert unreachable_api.refund(intent_id, 300, key="lost-1").status_code == 504
    assert reconcile_after_deadline(deps) == ReconcileReport(succeeded=0, released=1, unsettled=0)
    assert unreachable_api.intent(intent_id)["refundedAmount"] == 0
    assert audit_findings(database_url) == {}

    # The same account, through a server whose processor answers: the key refunds anew.
    same_account = Api(api.client, unreachable_api.key)
    retried = same_account.refund(intent_id, 300, key="lost-1")
    assert retried.status_code == 200, retried.text
    assert "idempotent-replayed" not in retried.headers
    assert same_account.intent(intent_id)["refundedAmount"] == 300
    assert audit_findings(database_url) == {}


def test_a_capture_that_never_arrived_releases_the_intent(
    unreachable_api: Api, api: Api, deps: Dependencies, database_url: str
) -> None:
    intent_id = str(unreachable_api.create_intent(1000, captureMode="Manual")["id"])
    assert unreachable_api.pay(intent_id).json()["status"] == "Authorized"
    captures = f"/payment-intents/{intent_id}/captures"
    assert unreachable_api.post(captures, {"amount": 400}, IdempotencyKey="cap-1").status_code == 504
    assert reconcile_after_deadline(deps) == ReconcileReport(succeeded=0, released=1, unsettled=0)
    assert audit_findings(database_url) == {}

    same_account = Api(api.client, unreachable_api.key)
    assert same_account.post(captures, {"amount": 400}, IdempotencyKey="cap-1").status_code == 200
    intent = same_account.intent(intent_id)
    assert (intent["status"], [c["amount"] for c in intent["captures"]]) == ("Captured", [400])
    assert audit_findings(database_url) == {}


def test_a_processor_that_never_answers_a_lookup_does_not_hold_the_reconciler(
    unreachable_api: Api, deps: Dependencies
) -> None:
    """The reconciler runs on the housekeeping thread (expiry, terminal sessions, polling): a
    processor elsewhere that hangs must not hold it. Each lookup waits at most the processor
    timeout, none starts once a pass has taken that long, and what is left stays pending."""
    for n in range(3):
        intent_id = unreachable_api.captured_intent(1000)
        assert unreachable_api.refund(intent_id, 300, key=f"silent-{n}").status_code == 504
    time.sleep(TIMEOUT_S + DEADLINE_MARGIN.total_seconds() + 0.2)
    silent = dataclasses.replace(deps, processor_timeout_s=TIMEOUT_S, processor=SilentProcessor())
    started = time.monotonic()
    report = asyncio.run(asyncio.wait_for(reconcile_overdue(silent), 30))
    assert report == ReconcileReport(succeeded=0, released=0, unsettled=3)
    assert time.monotonic() - started < 5  # not the lookup's hour
