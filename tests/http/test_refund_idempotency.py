"""Idempotency keys over HTTP, on both stores (docs/api.md, "Idempotency"):
the required ``idempotencyKey`` header and its limits, byte-identical replays, 409 on a reused key,
the key's scope, keys spent only by successes, the optional header on create / capture / reversal,
and reaping after the retention period (time moved with a fake clock).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from payintents.adapters.sql.engine import make_engine
from payintents.bootstrap import Settings, build_dependencies
from payintents.service.accounts import create_account
from payintents.web.app import build_app
from tests.fakes import FakeClock
from tests.support import Api
from tests.unit.sync_use_cases import run_expiry_pass


def post_refund(api: Api, intent_id: str, content: bytes, headers: dict[Any, Any]) -> httpx.Response:
    """A refund POST with exactly these body bytes and extra headers (bytes allowed)."""
    base: dict[Any, Any] = {**api.headers(), "Content-Type": "application/json", **headers}
    return api.client.post(f"/payment-intents/{intent_id}/refunds", content=content, headers=base)


def refunded(api: Api, intent_id: str) -> int:
    return int(api.intent(intent_id)["refundedAmount"])


def refund_count(api: Api, intent_id: str) -> int:
    response = api.get(f"/payment-intents/{intent_id}/refunds")
    assert response.status_code == 200, response.text
    return len(response.json()["data"])


def assert_replay(first: httpx.Response, again: httpx.Response) -> None:
    assert again.status_code == first.status_code == 200, again.text
    assert again.content == first.content
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert "Idempotent-Replayed" not in first.headers


def idempotency_error(response: httpx.Response) -> list[str]:
    assert response.status_code == 400, response.text
    return list(response.json()["errors"]["idempotencyKey"])


# --- the header itself ------------------------------------------------------------------------------


def test_missing_key_is_refused_and_nothing_is_refunded(api: Api) -> None:
    intent_id = api.captured_intent(1000)
    assert idempotency_error(api.post(f"/payment-intents/{intent_id}/refunds", {"amount": 100}))
    assert idempotency_error(post_refund(api, intent_id, b'{"amount":100}', {"IdempotencyKey": ""}))
    assert (refunded(api, intent_id), refund_count(api, intent_id)) == (0, 0)


def test_key_of_more_than_100_characters_is_refused(api: Api) -> None:
    intent_id = api.captured_intent(1000)
    assert idempotency_error(api.refund(intent_id, 100, key="k" * 101))
    assert refunded(api, intent_id) == 0
    assert api.refund(intent_id, 100, key="k" * 100).status_code == 200


@pytest.mark.parametrize(
    "raw_key",
    [b"tab\there", b"bell\x07", b"del\x7f", b"caf\xc3\xa9", b"\xff\xfe", b"nul\x00byte"],
    ids=["tab", "bell", "del", "utf8", "latin1", "nul"],
)
def test_non_printable_or_non_ascii_key_is_refused(api: Api, raw_key: bytes) -> None:
    intent_id = api.captured_intent(1000)
    try:
        response = post_refund(api, intent_id, b'{"amount":100}', {b"IdempotencyKey": raw_key})
    except (httpx.LocalProtocolError, ValueError, UnicodeError) as refused:
        pytest.fail(f"the test client refused to send {raw_key!r}: {refused}")
    assert idempotency_error(response)
    assert refunded(api, intent_id) == 0


@pytest.mark.parametrize("name", ["IdempotencyKey", "idempotencykey", "IDEMPOTENCYKEY", "idempotencyKey"])
def test_header_name_is_case_insensitive(api: Api, name: str) -> None:
    intent_id = api.captured_intent(1000)
    first = post_refund(api, intent_id, b'{"amount":100}', {name: "case-key"})
    assert first.status_code == 200, first.text
    again = post_refund(api, intent_id, b'{"amount":100}', {name.swapcase(): "case-key"})
    assert_replay(first, again)
    assert refunded(api, intent_id) == 100


# --- replays and conflicts ------------------------------------------------------------------------


def test_same_key_same_body_replays_byte_for_byte(api: Api) -> None:
    intent_id = api.captured_intent(1000)
    first = api.refund(intent_id, 400, key="656565gfyd65", refundReason="Demo refund")
    for _ in range(3):
        assert_replay(first, api.refund(intent_id, 400, key="656565gfyd65", refundReason="Demo refund"))
    assert (refunded(api, intent_id), refund_count(api, intent_id)) == (400, 1)


@pytest.mark.parametrize(
    "variant",
    [
        b'{"notes":"n","amount":400}',
        b'{ "amount" : 400 ,\n  "notes" : "n" }',
        b'{"Amount":400,"NOTES":"n"}',
    ],
    ids=["order", "whitespace", "name-case"],
)
def test_equivalent_json_counts_as_the_same_request(api: Api, variant: bytes) -> None:
    intent_id = api.captured_intent(1000)
    first = post_refund(api, intent_id, b'{"amount":400,"notes":"n"}', {"IdempotencyKey": "eq"})
    assert_replay(first, post_refund(api, intent_id, variant, {"IdempotencyKey": "eq"}))
    assert (refunded(api, intent_id), refund_count(api, intent_id)) == (400, 1)


@pytest.mark.parametrize(
    "changed", [{"amount": 401}, {"amount": 400, "notes": "other"}, {"amount": 400, "refundReason": "r"}]
)
def test_same_key_different_body_is_a_conflict(api: Api, changed: dict[str, Any]) -> None:
    intent_id = api.captured_intent(1000)
    assert api.refund(intent_id, 400, key="K", notes="n").status_code == 200
    body = {"notes": "n", **changed}
    response = api.post(f"/payment-intents/{intent_id}/refunds", body, IdempotencyKey="K")
    assert response.status_code == 409, response.text
    assert response.json()["status"] == 409 and "idempotencyKey" in response.json()["detail"]
    assert (refunded(api, intent_id), refund_count(api, intent_id)) == (400, 1)


def test_same_key_on_another_intent_is_a_new_refund(api: Api) -> None:
    first_intent, second_intent = api.captured_intent(1000), api.captured_intent(1000)
    first = api.refund(first_intent, 400, key="shared")
    second = api.refund(second_intent, 400, key="shared")
    assert first.status_code == second.status_code == 200
    assert "Idempotent-Replayed" not in second.headers
    assert first.json()["refundId"] != second.json()["refundId"]
    assert refunded(api, first_intent) == refunded(api, second_intent) == 400


def test_rejected_request_does_not_spend_the_key(api: Api) -> None:
    intent_id = api.captured_intent(1000)
    assert api.refund(intent_id, 1001, key="retry-me").status_code == 400
    assert api.refund(intent_id, 1001, key="retry-me").status_code == 400
    valid = api.refund(intent_id, 1000, key="retry-me")
    assert valid.status_code == 200 and "Idempotent-Replayed" not in valid.headers
    assert refunded(api, intent_id) == 1000


def test_another_accounts_key_does_not_collide(api: Api, other_api: Api) -> None:
    mine, theirs = api.captured_intent(1000), other_api.captured_intent(1000)
    first = api.refund(mine, 400, key="K")
    assert other_api.refund(theirs, 400, key="K").status_code == 200
    # The same key and body from a stranger on my intent is not a replay of my answer.
    stolen = other_api.refund(mine, 400, key="K")
    assert stolen.status_code == 404 and first.content not in stolen.content
    assert_replay(first, api.refund(mine, 400, key="K"))
    assert refunded(api, mine) == refunded(other_api, theirs) == 400


def test_replay_after_full_refund_still_returns_the_original_answer(api: Api) -> None:
    intent_id = api.captured_intent(1000)
    first = api.refund(intent_id, 400, key="early")
    assert api.refund(intent_id, 600, key="late").status_code == 200
    assert api.intent(intent_id)["status"] == "Refunded"
    assert_replay(first, api.refund(intent_id, 400, key="early"))
    assert (refunded(api, intent_id), refund_count(api, intent_id)) == (1000, 2)


# --- the optional header elsewhere ------------------------------------------------------------------


def test_create_intent_honours_the_key(api: Api) -> None:
    body = {"amount": {"value": 1000, "currencyCode": "GBP"}, "reference": "Order 234"}
    first = api.post("/payment-intents", body, IdempotencyKey="create-1")
    assert_replay(first, api.post("/payment-intents", body, IdempotencyKey="create-1"))
    changed = {**body, "reference": "Order 235"}
    assert api.post("/payment-intents", changed, IdempotencyKey="create-1").status_code == 409
    assert api.post("/payment-intents", body).json()["id"] != first.json()["id"]


def test_capture_honours_the_key_but_does_not_need_it(api: Api) -> None:
    intent_id = str(api.create_intent(1000, captureMode="Manual")["id"])
    assert api.pay(intent_id).json()["status"] == "Authorized"
    path = f"/payment-intents/{intent_id}/captures"
    first = api.post(path, {"amount": 300}, IdempotencyKey="cap-1")
    assert_replay(first, api.post(path, {"amount": 300}, IdempotencyKey="cap-1"))
    assert [c["amount"] for c in api.intent(intent_id)["captures"]] == [300]
    assert api.post(path, {"amount": 200}).status_code == 200
    assert [c["amount"] for c in api.intent(intent_id)["captures"]] == [300, 200]


def test_reversal_honours_the_key_but_does_not_need_it(api: Api) -> None:
    keyed = str(api.create_intent(1000, captureMode="Manual")["id"])
    unkeyed = str(api.create_intent(1000, captureMode="Manual")["id"])
    for intent_id in (keyed, unkeyed):
        assert api.pay(intent_id).json()["status"] == "Authorized"
    first = api.post(f"/payment-intents/{keyed}/reversal", IdempotencyKey="rev-1")
    assert_replay(first, api.post(f"/payment-intents/{keyed}/reversal", IdempotencyKey="rev-1"))
    assert api.post(f"/payment-intents/{unkeyed}/reversal").status_code == 200
    assert api.intent(keyed)["status"] == api.intent(unkeyed)["status"] == "Reversed"


# --- retention --------------------------------------------------------------------------------------


@pytest.fixture
def timed(database_url: str) -> Iterator[tuple[Api, FakeClock, Any]]:
    """An API on a store whose clock the test moves, and the expiry pass for that store."""
    clock = FakeClock()
    engine = make_engine(database_url, pool_size=2)
    deps = build_dependencies(Settings(database_url=database_url), engine=engine, clock=clock)
    with TestClient(build_app(deps), base_url="http://testserver") as client:
        yield Api(client, create_account(deps, "timed").sandbox_key), clock, lambda: run_expiry_pass(deps)
    engine.dispose()


def test_keys_are_kept_for_the_retention_period_then_reaped(timed: tuple[Api, FakeClock, Any]) -> None:
    api, clock, expiry_pass = timed
    intent_id = api.captured_intent(1000)
    first = api.refund(intent_id, 100, key="kept")
    assert first.status_code == 200
    clock.advance(hours=71)
    assert expiry_pass().keys_reaped == 0
    assert_replay(first, api.refund(intent_id, 100, key="kept"))
    clock.advance(hours=1, minutes=1)
    assert expiry_pass().keys_reaped == 1
    fresh = api.refund(intent_id, 100, key="kept")
    assert fresh.status_code == 200 and "Idempotent-Replayed" not in fresh.headers
    assert json.loads(fresh.content)["refundId"] != first.json()["refundId"]
    assert (refunded(api, intent_id), refund_count(api, intent_id)) == (200, 2)
