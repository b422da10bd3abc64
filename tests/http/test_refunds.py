"""The refund endpoint over HTTP, on both stores: amounts and the refundable cap, the states a
refund needs, 404s that reveal nothing, the response shapes, retrieval and listing, 405s, and the
outbox rows every refund writes (docs/api.md, "Refunds").
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from payintents.adapters.sql.engine import make_engine
from payintents.adapters.sql.schema import outbox_events, refunds
from payintents.service.accounts import create_account
from payintents.service.dependencies import Dependencies
from tests.support import Api

REFUND_ID = re.compile(r"^rfnd_[A-Za-z0-9_-]{22}$")
UNKNOWN_INTENT = "pi_sandbox_AAAAAAAAAAAAAAAAAAAAAA"
PROBLEM_KEYS = ("type", "title", "status", "detail", "errors", "traceId")


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """Dojo's error body with the expected status; returned for further checks."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = dict(response.json())
    assert {"type", "title", "status", "traceId"} <= set(body) <= {*PROBLEM_KEYS}
    assert body["status"] == status
    return body


def without_trace(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "traceId"}


def outbox_names(deps_url: str, intent_id: str) -> list[str]:
    engine = make_engine(deps_url, pool_size=1)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(outbox_events.c.name)
                .where(outbox_events.c.payment_intent_id == intent_id)
                .order_by(outbox_events.c.created_at)
            )
            return [row[0] for row in rows]
    finally:
        engine.dispose()


def refund_rows_total(deps_url: str, intent_id: str) -> tuple[int, int]:
    """(number of refund rows, sum of their amounts) straight from the store."""
    engine = make_engine(deps_url, pool_size=1)
    try:
        with engine.connect() as conn:
            count, total = conn.execute(
                select(func.count(), func.coalesce(func.sum(refunds.c.amount), 0)).where(
                    refunds.c.payment_intent_id == intent_id
                )
            ).one()
            return int(count), int(total)
    finally:
        engine.dispose()


def listed(api: Api, intent_id: str) -> list[dict[str, Any]]:
    response = api.get(f"/payment-intents/{intent_id}/refunds")
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


def authorized_manual(api: Api, value: int = 1000) -> str:
    intent_id = str(api.create_intent(value, captureMode="Manual")["id"])
    paid = api.pay(intent_id)
    assert paid.status_code == 200 and paid.json()["status"] == "Authorized", paid.text
    return intent_id


def capture(api: Api, intent_id: str, amount: int, tips: int | None = None) -> None:
    body: dict[str, Any] = {"amount": amount} if tips is None else {"amount": amount, "tipsAmount": tips}
    response = api.post(f"/payment-intents/{intent_id}/captures", body)
    assert response.status_code == 200, response.text


@pytest.fixture
def db_url(database_url: str) -> str:
    """The URL of the store behind ``api`` (the same database_url instance)."""
    return database_url


# --- amounts and the cap ----------------------------------------------------------------------------


def test_full_refund_sets_refunded(api: Api, db_url: str) -> None:
    intent_id = api.captured_intent(1000)
    assert api.refund(intent_id, 1000).status_code == 200
    intent = api.intent(intent_id)
    assert (intent["status"], intent["refundedAmount"]) == ("Refunded", intent["totalAmount"]["value"])
    assert refund_rows_total(db_url, intent_id) == (1, 1000)


def test_partial_refund_stays_captured(api: Api) -> None:
    intent_id = api.captured_intent(1000)
    assert api.refund(intent_id, 400).status_code == 200
    intent = api.intent(intent_id)
    assert (intent["status"], intent["refundedAmount"]) == ("Captured", 400)


def test_partials_summing_to_total_refund_fully_then_nothing_more(api: Api, db_url: str) -> None:
    intent_id = api.captured_intent(1000)
    for amount, status in ((300, "Captured"), (300, "Captured"), (400, "Refunded")):
        assert api.refund(intent_id, amount).status_code == 200
        assert api.intent(intent_id)["status"] == status
    body = problem(api.refund(intent_id, 1), 400)
    assert "already been fully refunded" in body["detail"]
    assert api.intent(intent_id)["refundedAmount"] == 1000
    assert refund_rows_total(db_url, intent_id) == (3, 1000)


def test_over_refund_says_how_much_remains_and_changes_nothing(api: Api, db_url: str) -> None:
    intent_id = api.captured_intent(1000)
    assert api.refund(intent_id, 700).status_code == 200
    body = problem(api.refund(intent_id, 301), 400)
    assert "300" in body["detail"] and "remaining" in body["detail"]
    assert api.intent(intent_id)["refundedAmount"] == 700
    assert refund_rows_total(db_url, intent_id) == (1, 700)
    assert api.refund(intent_id, 300).status_code == 200


@pytest.mark.parametrize("amount", [0, -1, -1000, 1.5, 10.0, "100", True, False, None])
def test_bad_amount_is_refused_with_errors_amount(api: Api, amount: Any) -> None:
    intent_id = api.captured_intent(1000)
    body = problem(api.refund(intent_id, amount), 400)
    assert "amount" in body["errors"]
    assert api.intent(intent_id)["refundedAmount"] == 0
    assert listed(api, intent_id) == []


def test_missing_amount_is_refused(api: Api) -> None:
    intent_id = api.captured_intent(1000)
    response = api.post(f"/payment-intents/{intent_id}/refunds", {"notes": "x"}, IdempotencyKey="k")
    assert "amount" in problem(response, 400)["errors"]


@pytest.mark.parametrize(
    ("field", "limit"), [("refundReason", 1024), ("notes", 4096), ("previousTransactionId", 100)]
)
def test_text_fields_have_dojos_limits(api: Api, field: str, limit: int) -> None:
    intent_id = api.captured_intent(1000)
    assert field in problem(api.refund(intent_id, 100, **{field: "x" * (limit + 1)}), 400)["errors"]
    assert api.intent(intent_id)["refundedAmount"] == 0
    assert api.refund(intent_id, 100, **{field: "x" * limit}).status_code == 200


def test_unknown_property_is_refused(api: Api) -> None:
    intent_id = api.captured_intent(1000)
    body = problem(api.refund(intent_id, 100, currency="GBP"), 400)
    assert "currency" in body["errors"]
    assert api.intent(intent_id)["refundedAmount"] == 0


# --- states -----------------------------------------------------------------------------------------


def test_refund_needs_a_captured_intent(api: Api) -> None:
    created = str(api.create_intent(1000)["id"])
    authorized = authorized_manual(api)
    reversed_ = authorized_manual(api)
    assert api.post(f"/payment-intents/{reversed_}/reversal").status_code == 200
    for intent_id, status in ((created, "Created"), (authorized, "Authorized"), (reversed_, "Reversed")):
        detail = problem(api.refund(intent_id, 100), 400)["detail"]
        assert "captured" in detail.lower() and status in detail, detail
        assert api.intent(intent_id)["refundedAmount"] == 0


def test_hidden_intents_answer_exactly_like_unknown_ones(client: TestClient, deps: Dependencies) -> None:
    owner = create_account(deps, "owner")
    sandbox, production = Api(client, owner.sandbox_key), Api(client, owner.prod_key)
    stranger = Api(client, create_account(deps, "stranger").sandbox_key)
    captured = sandbox.captured_intent(1000)
    canceled = str(sandbox.create_intent(1000)["id"])
    assert sandbox.client.delete(f"/payment-intents/{canceled}", headers=sandbox.headers()).status_code == 200
    unknown = without_trace(problem(sandbox.refund(UNKNOWN_INTENT, 100), 404))
    assert without_trace(problem(sandbox.refund(canceled, 100), 404)) == unknown
    assert without_trace(problem(stranger.refund(captured, 100), 404)) == unknown
    assert without_trace(problem(production.refund(captured, 100), 404)) == unknown
    assert sandbox.intent(captured)["refundedAmount"] == 0


def test_manual_refundable_total_is_the_sum_of_captures_with_tips(api: Api) -> None:
    intent_id = authorized_manual(api, 1000)
    capture(api, intent_id, 300, tips=50)
    capture(api, intent_id, 200)
    assert "remaining" in problem(api.refund(intent_id, 551), 400)["detail"]
    assert api.refund(intent_id, 500).status_code == 200
    assert api.intent(intent_id)["status"] == "Captured"
    assert api.refund(intent_id, 50).status_code == 200
    intent = api.intent(intent_id)
    assert (intent["status"], intent["refundedAmount"]) == ("Refunded", 550)
    assert problem(api.refund(intent_id, 1), 400)


# --- shapes, retrieval, listing -----------------------------------------------------------------------


def test_created_refund_has_exactly_the_decided_shape(api: Api) -> None:
    intent_id = api.captured_intent(1000, reference="Order 3443")
    response = api.refund(intent_id, 1000, refundReason="Demo refund", notes="Duplicate transaction")
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"paymentIntentId", "refundId", "refundReason", "notes", "message"}
    assert REFUND_ID.match(body["refundId"]), body["refundId"]
    assert body["paymentIntentId"] == intent_id
    assert (body["refundReason"], body["notes"]) == ("Demo refund", "Duplicate transaction")
    assert body["message"] == "refund for Order 3443"
    assert api.refund(intent_id, 1).status_code == 400


def test_get_refund_by_id_has_the_four_spec_fields(api: Api) -> None:
    intent_id = api.captured_intent(1000)
    created = api.refund(intent_id, 250, refundReason="Demo refund").json()
    response = api.get(f"/payment-intents/refunds/{created['refundId']}")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "paymentIntentId": intent_id,
        "refundId": created["refundId"],
        "refundReason": "Demo refund",
        "notes": None,
    }


def test_get_refund_refuses_long_ids_and_hides_others(api: Api, other_api: Api) -> None:
    intent_id = api.captured_intent(1000)
    refund_id = api.refund(intent_id, 100).json()["refundId"]
    assert "refundId" in problem(api.get(f"/payment-intents/refunds/rfnd_{'a' * 46}"), 400)["errors"]
    assert api.get(f"/payment-intents/refunds/rfnd_{'a' * 45}").status_code == 404
    unknown = without_trace(problem(api.get("/payment-intents/refunds/rfnd_AAAAAAAAAAAAAAAAAAAAAA"), 404))
    assert without_trace(problem(other_api.get(f"/payment-intents/refunds/{refund_id}"), 404)) == unknown


def test_list_shows_refunds_in_creation_order(api: Api, other_api: Api) -> None:
    intent_id = api.captured_intent(1000)
    made = [
        api.refund(intent_id, amount, notes=f"n{amount}").json()["refundId"] for amount in (100, 300, 200)
    ]
    data = listed(api, intent_id)
    assert [r["refundId"] for r in data] == made
    assert [r["amount"] for r in data] == [100, 300, 200]
    assert all(set(r) == {"refundId", "amount", "refundReason", "notes", "createdAt"} for r in data)
    assert [r["notes"] for r in data] == ["n100", "n300", "n200"]
    assert sum(r["amount"] for r in data) == api.intent(intent_id)["refundedAmount"]
    assert other_api.get(f"/payment-intents/{intent_id}/refunds").status_code == 404


@pytest.mark.parametrize("method", ["DELETE", "PUT", "PATCH"])
def test_refunds_cannot_be_deleted_or_replaced(api: Api, db_url: str, method: str) -> None:
    intent_id = api.captured_intent(1000)
    refund_id = api.refund(intent_id, 400).json()["refundId"]
    for path in (f"/payment-intents/{intent_id}/refunds", f"/payment-intents/refunds/{refund_id}"):
        headers = api.headers(IdempotencyKey="k", **{"Content-Type": "application/json"})
        response = api.client.request(method, path, headers=headers, content=b'{"amount":400}')
        problem(response, 405)
        assert "allow" in response.headers and method not in response.headers["allow"]
    assert api.intent(intent_id)["refundedAmount"] == 400
    assert [r["refundId"] for r in listed(api, intent_id)] == [refund_id]
    assert refund_rows_total(db_url, intent_id) == (1, 400)


# --- outbox and bookkeeping ---------------------------------------------------------------------------


def test_each_refund_writes_refund_created_and_a_full_one_a_status_update(api: Api, db_url: str) -> None:
    intent_id = api.captured_intent(1000)
    before = outbox_names(db_url, intent_id)
    assert api.refund(intent_id, 400).status_code == 200
    partial = outbox_names(db_url, intent_id)
    assert partial[len(before) :] == ["refund.created"]
    assert api.refund(intent_id, 600).status_code == 200
    full = outbox_names(db_url, intent_id)
    assert sorted(full[len(partial) :]) == ["payment_intent.status_updated", "refund.created"]
    assert problem(api.refund(intent_id, 1), 400)
    assert outbox_names(db_url, intent_id) == full


def test_refused_and_replayed_refunds_write_no_outbox_rows(api: Api, db_url: str) -> None:
    intent_id = api.captured_intent(1000)
    assert api.refund(intent_id, 400, key="same").status_code == 200
    after_first = outbox_names(db_url, intent_id)
    assert api.refund(intent_id, 400, key="same").status_code == 200
    assert api.refund(intent_id, 601).status_code == 400
    assert api.refund(intent_id, 0).status_code == 400
    assert outbox_names(db_url, intent_id) == after_first


def test_refunded_amount_always_equals_the_refund_rows(api: Api, db_url: str) -> None:
    intent_id = api.captured_intent(5000)
    for amount in (1, 999, 6000, 2000, 0, 2001, 2000):
        api.refund(intent_id, amount)
        count, total = refund_rows_total(db_url, intent_id)
        assert api.intent(intent_id)["refundedAmount"] == total
        assert len(listed(api, intent_id)) == count
    assert api.intent(intent_id)["status"] == "Refunded"
