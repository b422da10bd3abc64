"""Sandbox failure injection over HTTP, on both stores (docs/sandbox.md):

- ``POST /sandbox/payment-intents/{id}/fail-next`` for refunds and for captures of Manual intents, with
  every outcome: declined → 400 with a detail, processor_error → 502, slow → 200 after the delay.
  After a failure no money moved, no refund or capture exists, the same idempotency key then
  succeeds, and the failure was used up; a 400 rule break or a replay leaves it in place.
- Its refusals: unknown or another account's intent → 404, bad bodies → 400, production keys → 404.
- A capture or refund looks for an armed failure only when authentication saw one armed for the
  key's account (checked by counting the lookups).
- The extra test cards through ``POST /checkout/{id}/pay``: decline reasons, processor error (502),
  timeout (504).
"""

from __future__ import annotations

import dataclasses
import secrets
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, event
from starlette.testclient import TestClient

from payintents.adapters.sandbox_processor import SandboxProcessor
from payintents.service.accounts import create_account
from payintents.service.dependencies import Dependencies
from payintents.web.app import build_app
from tests.support import Api

UNKNOWN_INTENT = "pi_sandbox_AAAAAAAAAAAAAAAAAAAAAA"
DECLINE_REFUND = {"operation": "refund", "outcome": "declined"}
FAILING = [("declined", 400), ("processor_error", 502)]


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = dict(response.json())
    assert body["status"] == status and body["traceId"], body
    return body


def fail_next_call(api: Api, intent_id: str, body: Any = DECLINE_REFUND) -> httpx.Response:
    return api.post(f"/sandbox/payment-intents/{intent_id}/fail-next", body)


def fail_next(api: Api, intent_id: str, operation: str, outcome: str, **extra: Any) -> dict[str, Any]:
    response = fail_next_call(api, intent_id, {"operation": operation, "outcome": outcome, **extra})
    assert response.status_code == 200, response.text
    return dict(response.json())


def card(number: str) -> dict[str, str]:
    return {"cardNumber": number, "expiryDate": "12/29", "cvv": "123"}


def authorized_manual(api: Api, value: int = 1000) -> str:
    intent_id = str(api.create_intent(value, captureMode="Manual")["id"])
    paid = api.pay(intent_id)
    assert paid.status_code == 200 and paid.json()["status"] == "Authorized", paid.text
    return intent_id


def capture(api: Api, intent_id: str, amount: int, key: str | None = None) -> httpx.Response:
    key = key or secrets.token_hex(8)
    return api.post(f"/payment-intents/{intent_id}/captures", {"amount": amount}, IdempotencyKey=key)


def refunds_of(api: Api, intent_id: str) -> list[dict[str, Any]]:
    listed = api.get(f"/payment-intents/{intent_id}/refunds")
    assert listed.status_code == 200, listed.text
    body = listed.json()
    return list(body["data"] if isinstance(body, dict) else body)


@pytest.fixture
def sleeps(deps: Dependencies) -> Iterator[tuple[Api, list[float]]]:
    """A sandbox client of an app whose ``sleep`` only records how long it was asked to wait."""
    recorded: list[float] = []

    async def sleep(seconds: float) -> None:
        recorded.append(seconds)

    app = build_app(dataclasses.replace(deps, sleep=sleep))
    with TestClient(app, base_url="http://testserver") as client:
        yield Api(client, create_account(deps, "sleepy").sandbox_key), recorded


# refunds -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("outcome", "status"), FAILING)
def test_failed_refund_moves_no_money_and_its_key_stays_usable(api: Api, outcome: str, status: int) -> None:
    intent_id = api.captured_intent(1000)
    assert fail_next(api, intent_id, "refund", outcome) == {
        "paymentIntentId": intent_id,
        "operation": "refund",
        "outcome": outcome,
        "delayMs": 0,
    }
    failed = problem(api.refund(intent_id, 300, key="order-1-refund"), status)
    assert outcome.split("_", maxsplit=1)[0] in failed["detail"].lower()
    intent = api.intent(intent_id)
    assert (intent["status"], intent["refundedAmount"]) == ("Captured", 0)
    assert refunds_of(api, intent_id) == []

    retried = api.refund(intent_id, 300, key="order-1-refund")  # the failure was used up
    assert retried.status_code == 200, retried.text
    assert "idempotent-replayed" not in retried.headers
    assert api.intent(intent_id)["refundedAmount"] == 300
    assert [r["amount"] for r in refunds_of(api, intent_id)] == [300]
    assert api.refund(intent_id, 100).status_code == 200  # and applies once only


def test_slow_refund_waits_the_delay_then_succeeds_once(sleeps: tuple[Api, list[float]]) -> None:
    api, recorded = sleeps
    intent_id = api.captured_intent(1000)
    assert fail_next(api, intent_id, "refund", "slow", delayMs=1500)["delayMs"] == 1500
    assert api.refund(intent_id, 200).status_code == 200
    assert recorded == [1.5]
    assert api.refund(intent_id, 200).status_code == 200
    assert recorded == [1.5]
    assert api.intent(intent_id)["refundedAmount"] == 400


def test_slow_refund_really_waits(api: Api) -> None:
    intent_id = api.captured_intent(1000)
    fail_next(api, intent_id, "refund", "slow", delayMs=300)
    started = time.monotonic()
    answered = api.refund(intent_id, 100)
    elapsed = time.monotonic() - started
    assert answered.status_code == 200, answered.text
    assert elapsed >= 0.3
    started = time.monotonic()
    assert api.refund(intent_id, 100).status_code == 200
    assert time.monotonic() - started < 0.3


def test_refund_rule_break_does_not_use_up_the_failure(api: Api) -> None:
    intent_id = api.captured_intent(1000)
    fail_next(api, intent_id, "refund", "declined")
    assert "exceeds" in problem(api.refund(intent_id, 5000), 400)["detail"]
    assert "declined" in problem(api.refund(intent_id, 100), 400)["detail"]
    assert api.refund(intent_id, 100).status_code == 200


def test_refund_replay_does_not_use_up_the_failure(api: Api) -> None:
    intent_id = api.captured_intent(1000)
    first = api.refund(intent_id, 100, key="k-1")
    assert first.status_code == 200
    fail_next(api, intent_id, "refund", "processor_error")
    replay = api.refund(intent_id, 100, key="k-1")
    assert replay.status_code == 200 and replay.headers["idempotent-replayed"] == "true"
    assert replay.content == first.content
    problem(api.refund(intent_id, 100, key="k-2"), 502)
    assert api.refund(intent_id, 100, key="k-2").status_code == 200
    assert api.intent(intent_id)["refundedAmount"] == 200


def test_a_refund_failure_leaves_captures_alone(api: Api) -> None:
    intent_id = authorized_manual(api)
    fail_next(api, intent_id, "refund", "declined")
    assert capture(api, intent_id, 1000).status_code == 200
    problem(api.refund(intent_id, 100), 400)


# captures ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("outcome", "status"), FAILING)
def test_failed_capture_moves_no_money_and_its_key_stays_usable(api: Api, outcome: str, status: int) -> None:
    intent_id = authorized_manual(api)
    fail_next(api, intent_id, "capture", outcome)
    failed = problem(capture(api, intent_id, 400, key="cap-1"), status)
    assert outcome.split("_", maxsplit=1)[0] in failed["detail"].lower()
    intent = api.intent(intent_id)
    assert (intent["status"], intent["captures"]) == ("Authorized", [])

    retried = capture(api, intent_id, 400, key="cap-1")
    assert retried.status_code == 200, retried.text
    assert "idempotent-replayed" not in retried.headers
    assert [c["amount"] for c in api.intent(intent_id)["captures"]] == [400]
    assert capture(api, intent_id, 100).status_code == 200  # applies once only
    assert [c["amount"] for c in api.intent(intent_id)["captures"]] == [400, 100]


def test_slow_capture_waits_the_delay_then_succeeds_once(sleeps: tuple[Api, list[float]]) -> None:
    api, recorded = sleeps
    intent_id = authorized_manual(api)
    fail_next(api, intent_id, "capture", "slow", delayMs=2500)
    assert capture(api, intent_id, 1000).status_code == 200
    assert recorded == [2.5]
    assert api.intent(intent_id)["status"] == "Captured"
    assert api.refund(intent_id, 1000).status_code == 200  # a capture failure is not a refund one
    assert recorded == [2.5]


def test_slow_capture_really_waits(api: Api) -> None:
    intent_id = authorized_manual(api)
    fail_next(api, intent_id, "capture", "slow", delayMs=300)
    started = time.monotonic()
    assert capture(api, intent_id, 1000).status_code == 200
    assert time.monotonic() - started >= 0.3


def test_capture_rule_break_does_not_use_up_the_failure(api: Api) -> None:
    intent_id = authorized_manual(api)
    fail_next(api, intent_id, "capture", "processor_error")
    problem(capture(api, intent_id, 5000), 400)
    problem(capture(api, intent_id, 500), 502)
    assert capture(api, intent_id, 500).status_code == 200


def test_capture_replay_does_not_use_up_the_failure(api: Api) -> None:
    intent_id = authorized_manual(api)
    assert capture(api, intent_id, 300, key="c-1").status_code == 200
    fail_next(api, intent_id, "capture", "declined")
    replay = capture(api, intent_id, 300, key="c-1")
    assert replay.status_code == 200 and replay.headers["idempotent-replayed"] == "true"
    problem(capture(api, intent_id, 300, key="c-2"), 400)
    assert capture(api, intent_id, 300, key="c-2").status_code == 200
    assert [c["amount"] for c in api.intent(intent_id)["captures"]] == [300, 300]


def test_a_later_fail_next_replaces_the_earlier_one(api: Api) -> None:
    intent_id = api.captured_intent(1000)
    fail_next(api, intent_id, "refund", "declined")
    fail_next(api, intent_id, "refund", "processor_error")
    problem(api.refund(intent_id, 100), 502)
    assert api.refund(intent_id, 100).status_code == 200


# refusals ------------------------------------------------------------------------------------------


def test_fail_next_on_unknown_or_foreign_intents_is_404(api: Api, other_api: Api) -> None:
    problem(fail_next_call(api, UNKNOWN_INTENT), 404)
    theirs = other_api.captured_intent(1000)
    problem(fail_next_call(api, theirs), 404)
    assert other_api.refund(theirs, 100).status_code == 200  # nothing was injected into theirs


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"operation": "refund"},
        {"outcome": "declined"},
        {"operation": "reverse", "outcome": "declined"},
        {"operation": "refund", "outcome": "explode"},
        {"operation": "refund", "outcome": "slow", "delayMs": -1},
        {"operation": "refund", "outcome": "slow", "delayMs": 30_001},
        {"operation": "refund", "outcome": "slow", "delayMs": 1.5},
        {"operation": "refund", "outcome": "slow", "delayMs": "100"},
        {"operation": "refund", "outcome": "declined", "colour": "red"},
        [],
    ],
)
def test_bad_fail_next_bodies_are_400_and_inject_nothing(api: Api, body: Any) -> None:
    intent_id = api.captured_intent(1000)
    problem(fail_next_call(api, intent_id, body), 400)
    assert api.refund(intent_id, 100).status_code == 200


def test_production_keys_see_no_sandbox_endpoint(client: TestClient, deps: Dependencies) -> None:
    prod = Api(client, create_account(deps, "live").prod_key)
    intent_id = prod.create_intent(1000)["id"]
    calls = [
        fail_next_call(prod, intent_id),
        prod.get("/sandbox/clock"),
        prod.post("/sandbox/clock/advance", {"seconds": 60}),
        prod.post("/sandbox/reset"),
        prod.get("/sandbox/requests"),
    ]
    bodies = [problem(response, 404) for response in calls]
    assert len({b["detail"] for b in bodies}) == 1
    assert prod.intent(intent_id)["status"] == "Created"  # neither reset nor expired


# test cards ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("4456530000001013", "DECLINED"),
        ("4111110000000051", "INSUFFICIENT FUNDS"),
        ("4111110000000069", "EXPIRED CARD"),
    ],
)
def test_declining_cards_record_their_reason(api: Api, number: str, reason: str) -> None:
    intent_id = api.create_intent(1000)["id"]
    paid = api.pay(intent_id, card(number))
    assert paid.status_code == 200, paid.text
    intent = api.intent(intent_id)
    assert intent["status"] == "Created"
    [event] = intent["paymentEvents"]
    assert (event["eventType"], event["message"]) == ("Declined", reason)
    assert api.pay(intent_id).json()["status"] == "Captured"  # the customer may try another card


def test_processor_error_card_is_502_and_changes_nothing(api: Api) -> None:
    intent_id = api.create_intent(1000)["id"]
    failed = problem(api.pay(intent_id, card("4111110000000119")), 502)
    assert failed["type"].endswith("#section-6.6.3") and failed["title"] == "Bad Gateway"
    intent = api.intent(intent_id)
    assert (intent["status"], intent["paymentEvents"]) == ("Created", [])


def test_timeout_card_is_504_after_the_processor_timeout(deps: Dependencies) -> None:
    quick = dataclasses.replace(deps, processor=SandboxProcessor(timeout_s=0.05))
    with TestClient(build_app(quick), base_url="http://testserver") as client:
        api = Api(client, create_account(deps, "timeouts").sandbox_key)
        intent_id = api.create_intent(1000)["id"]
        started = time.monotonic()
        timed_out = problem(api.pay(intent_id, card("4111110000000127")), 504)
        assert timed_out["type"].endswith("#section-6.6.5") and timed_out["title"] == "Gateway Timeout"
        assert time.monotonic() - started >= 0.05
        intent = api.intent(intent_id)
        assert (intent["status"], intent["paymentEvents"]) == ("Created", [])


@pytest.fixture
def lookups() -> Iterator[list[str]]:
    """Every lookup of an armed failure (its SELECT) any engine of this process runs."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, sql: str, *_rest: Any) -> None:
        if sql.lstrip().startswith("SELECT sandbox_failures.outcome"):
            seen.append(sql)

    event.listen(Engine, "before_cursor_execute", record)
    yield seen
    event.remove(Engine, "before_cursor_execute", record)


def test_a_refund_looks_for_an_armed_failure_only_when_its_account_has_one(
    api: Api, other_api: Api, lookups: list[str]
) -> None:
    """Authentication reads, with the key, whether anything is armed (RequestContext.failures_armed)."""
    refunded, armed = api.captured_intent(), api.captured_intent()
    fail_next(other_api, other_api.captured_intent(), "refund", "declined")  # another account's
    assert api.refund(refunded, 100).status_code == 200
    assert lookups == []
    fail_next(api, armed, "refund", "declined")
    assert api.refund(refunded, 100).status_code == 200  # armed for another intent: looked, none
    assert len(lookups) == 1
    problem(api.refund(armed, 100), 400)  # the armed one is found and used up
    assert api.refund(armed, 100).status_code == 200
    assert len(lookups) == 2  # used up: the account has none armed again
