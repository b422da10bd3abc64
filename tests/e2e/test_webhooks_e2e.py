"""Webhooks end to end: a real ``payintents serve`` (2 workers, its built-in dispatcher) on SQLite and
PostgreSQL delivers to a real receiver on 127.0.0.1 subscribed (sandbox key) for every event.

A Manual intent's life (create → pay → capture → partial refund → full refund) must arrive as
``payment_intent.created``, status updates to Authorized, Captured and Refunded, and two
``refund.created``; every delivery in the exact shape of docs/webhooks.md, verifying with
``dojo-signature`` (recomputed here) and with Standard Webhooks (checked by the independent
``standardwebhooks`` package), and listed as delivered by ``GET /webhooks/{id}/deliveries``.
Secret rotation and the manual re-send extension are checked against the same receiver.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import BACKENDS
from tests.e2e.webhook_receiver import (
    Received,
    WebhookReceiver,
    deliveries,
    dojo_signature_ok,
    running_receiver,
    standard_webhooks_ok,
    subscribe,
)
from tests.support import Api, RunningServer, backend_database_url, running_server

pytestmark = pytest.mark.e2e

EVENT_ID = re.compile(r"^evt_sandbox_[A-Za-z0-9_-]{22}$")
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,7})?Z$")
INTENT_DATA_KEYS = ["paymentIntentId", "paymentStatus", "captureMode"]
DELIVERY_WAIT_S = 20.0


@pytest.fixture(scope="module", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    """One server per store for the module: each test has an account and a receiver of its own."""
    folder = tmp_path_factory.mktemp(f"webhooks-{request.param}")
    with pytest.MonkeyPatch.context() as env, backend_database_url(request.param, folder) as url:
        env.delenv("PAYINTENTS_DISPATCHER", raising=False)  # the built-in dispatcher delivers
        with running_server(url, folder, workers=2) as running:
            yield running


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with running_receiver() as running:
        yield running


@pytest.fixture
def account(server: RunningServer) -> dict[str, str]:
    return server.new_account()


@pytest.fixture
def api(server: RunningServer, account: dict[str, str]) -> Iterator[Api]:
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        yield Api(client, account["sandboxKey"])


def manual_intent_lifecycle(api: Api) -> tuple[str, list[str]]:
    """Create → pay → capture → refund 300 → refund 700; the intent id and the two refund ids."""
    intent_id = str(api.create_intent(1000, captureMode="Manual")["id"])
    paid = api.pay(intent_id)
    assert paid.status_code == 200 and paid.json()["status"] == "Authorized", paid.text
    captured = api.post(f"/payment-intents/{intent_id}/captures", {"amount": 1000})
    assert captured.status_code == 200, captured.text
    refund_ids = []
    for amount in (300, 700):
        refunded = api.refund(intent_id, amount)
        assert refunded.status_code == 200, refunded.text
        refund_ids.append(refunded.json()["refundId"])
    assert api.intent(intent_id)["status"] == "Refunded"
    return intent_id, refund_ids


def wait_until_listed_delivered(api: Api, subscription_id: str, count: int) -> list[dict[str, Any]]:
    """The receiver may see a delivery a moment before the dispatcher records it."""
    deadline = time.monotonic() + DELIVERY_WAIT_S
    while True:
        listed = deliveries(api, subscription_id)
        done = [d for d in listed if d["status"] == "delivered"]
        if len(done) >= count or time.monotonic() > deadline:
            return listed
        time.sleep(0.1)


def check_delivery_shape(received: Received, secret: str, account_id: str) -> dict[str, Any]:
    """One delivery as a receiver sees it; returns the parsed body."""
    assert received.path == "/hooks"
    assert received.headers["content-type"] == "application/json"
    assert dojo_signature_ok(secret, received.body, received.headers["dojo-signature"]), received.headers
    assert standard_webhooks_ok(secret, received), received.headers
    assert re.fullmatch(r"sha256=([0-9A-F]{2}-){31}[0-9A-F]{2}", received.headers["dojo-signature"])
    assert abs(int(received.headers["webhook-timestamp"]) - time.time()) < 60
    body = json.loads(received.body)
    assert list(body) == ["id", "event", "accountId", "createdAt", "data"]
    assert received.body == json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    assert received.webhook_id == body["id"] and EVENT_ID.match(body["id"])
    assert body["accountId"] == account_id
    assert TIMESTAMP.match(body["createdAt"]), body
    return dict(body)


def test_manual_intent_lifecycle_is_delivered_signed_both_ways(
    api: Api, account: dict[str, str], receiver: WebhookReceiver
) -> None:
    subscription = subscribe(api, receiver.url)
    assert set(subscription["events"]) == {
        "payment_intent.created",
        "payment_intent.status_updated",
        "refund.created",
    }
    [secret] = subscription["secrets"]
    assert secret["isActive"] is True

    intent_id, (first_refund, second_refund) = manual_intent_lifecycle(api)
    assert receiver.wait_for_count(6, DELIVERY_WAIT_S) == 6, receiver.requests()
    time.sleep(0.3)  # anything extra (a duplicate, a seventh event) would show up now

    received = receiver.requests()
    assert [r.answer for r in received] == ["ok"] * 6, "each event exactly once, first try"
    bodies = [check_delivery_shape(r, secret["value"], account["accountId"]) for r in received]
    bodies.sort(key=lambda b: b["createdAt"])  # arrival order is not guaranteed; creation order is

    def intent_event(name: str, status: str) -> tuple[str, dict[str, Any]]:
        return name, {"paymentIntentId": intent_id, "paymentStatus": status, "captureMode": "Manual"}

    def refund_event(refund_id: str, amount: int, total: int) -> tuple[str, dict[str, Any]]:
        data = {
            "paymentIntentId": intent_id,
            "refundId": refund_id,
            "amount": amount,
            "refundedAmount": total,
        }
        return "refund.created", data

    expected = [
        intent_event("payment_intent.created", "Created"),
        intent_event("payment_intent.status_updated", "Authorized"),
        intent_event("payment_intent.status_updated", "Captured"),
        refund_event(first_refund, 300, 300),
        # The full refund writes both of its events in one transaction: same createdAt, any order.
        refund_event(second_refund, 700, 1000),
        intent_event("payment_intent.status_updated", "Refunded"),
    ]
    got = [(b["event"], b["data"]) for b in bodies]
    assert got[:4] == expected[:4]
    assert sorted(got[4:], key=repr) == sorted(expected[4:], key=repr)
    assert bodies[4]["createdAt"] == bodies[5]["createdAt"]
    for body in bodies:
        if body["event"] != "refund.created":
            assert list(body["data"]) == INTENT_DATA_KEYS

    listed = wait_until_listed_delivered(api, subscription["id"], 6)
    assert {d["eventId"] for d in listed} == {b["id"] for b in bodies}
    by_id = {b["id"]: b for b in bodies}
    for delivery in listed:
        assert delivery["status"] == "delivered", delivery
        assert delivery["event"] == by_id[delivery["eventId"]]["event"]
        assert delivery["nextAttemptAt"] is None
        [attempt] = delivery["attempts"]
        assert attempt["attempt"] == 1 and attempt["statusCode"] == 200 and attempt["error"] is None
        assert isinstance(attempt["durationMs"], int) and attempt["durationMs"] >= 0

    secrets = api.get(f"/webhooks/{subscription['id']}/secrets").json()
    assert secrets["id"] == subscription["id"]
    assert "lastUsedAt" in secrets["secrets"][0], secrets


def test_rotated_secret_signs_new_deliveries_and_manual_resends(
    api: Api, account: dict[str, str], receiver: WebhookReceiver
) -> None:
    subscription = subscribe(api, receiver.url, ["payment_intent.created"])
    sub_id = subscription["id"]
    old_secret = subscription["secrets"][0]["value"]
    api.create_intent(500)
    assert receiver.wait_for_count(1, DELIVERY_WAIT_S) == 1
    [first] = receiver.requests()
    check_delivery_shape(first, old_secret, account["accountId"])

    generated = api.post(f"/webhooks/{sub_id}/secrets")
    assert generated.status_code == 200, generated.text
    [new] = [s for s in generated.json()["secrets"] if s["value"] != old_secret]
    assert new["isActive"] is False  # generating does not switch signing over yet
    assert (
        api.client.put(f"/webhooks/{sub_id}/secrets/{new['id']}/activate", headers=api.headers()).status_code
        == 204
    )
    old_id = subscription["secrets"][0]["id"]
    assert api.client.delete(f"/webhooks/{sub_id}/secrets/{old_id}", headers=api.headers()).status_code == 204

    api.create_intent(600)
    assert receiver.wait_for_count(2, DELIVERY_WAIT_S) == 2
    second = receiver.requests()[1]
    check_delivery_shape(second, new["value"], account["accountId"])
    assert not dojo_signature_ok(old_secret, second.body, second.headers["dojo-signature"])
    assert not standard_webhooks_ok(old_secret, second)

    # The re-send extension: the first event again, same id and body, signed with today's secret.
    resent = api.post(f"/webhooks/deliveries/{first.webhook_id}/retry")
    assert resent.status_code == 200, resent.text
    assert resent.json() == {"eventId": first.webhook_id, "deliveriesScheduled": 1}
    deadline = time.monotonic() + DELIVERY_WAIT_S
    while len(receiver.requests()) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    third = receiver.requests()[2]
    assert (third.webhook_id, third.body) == (first.webhook_id, first.body)
    check_delivery_shape(third, new["value"], account["accountId"])
