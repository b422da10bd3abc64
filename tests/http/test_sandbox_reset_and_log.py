"""``POST /sandbox/reset`` and the request log ``GET /sandbox/requests``, on both stores
(docs/sandbox.md).

Reset deletes every object of the calling sandbox account (intents with their captures and events,
refunds, idempotency keys, webhooks and deliveries, outbox events, injected failures, the request
log) in one transaction, and nothing of another account or of the same account's production.

The request log keeps every API request of a sandbox account (method, path with query, status,
duration, idempotency key, replayed, traceId, both bodies with card numbers masked), filters by
path prefix, status, intent and limit, never logs production, and is reaped after its retention.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select
from starlette.testclient import TestClient

from payintents.adapters.sql.engine import make_engine
from payintents.adapters.sql.sandbox_store import SqlSandboxRepository
from payintents.adapters.sql.schema import (
    idempotency_keys,
    outbox_events,
    payment_intents,
    refunds,
    sandbox_failures,
    sandbox_requests,
    webhook_deliveries,
    webhook_subscriptions,
)
from payintents.service.accounts import create_account
from payintents.service.dependencies import Dependencies
from payintents.service.sandbox import reap_request_log
from tests.support import Api

OWNED = [
    payment_intents,
    refunds,
    idempotency_keys,
    outbox_events,
    webhook_subscriptions,
    webhook_deliveries,
    sandbox_failures,
    sandbox_requests,
]
HOOK = "http://127.0.0.1:9/hook"
PROD_HOOK = "https://hooks.example.com/dojo"
CARD_NOTE = "customer card 4111 1111 1111 1111, backup 5200-0000-0000-1005, order 1234"
MASKED_NOTE = "customer card 411111******1111, backup 520000******1005, order 1234"


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url, pool_size=1)
    yield engine
    engine.dispose()


@pytest.fixture
def both(client: TestClient, deps: Dependencies) -> tuple[Api, Api]:
    """The sandbox and production clients of one account."""
    account = create_account(deps, "both environments")
    return Api(client, account.sandbox_key), Api(client, account.prod_key)


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = dict(response.json())
    assert body["status"] == status and body["traceId"], body
    return body


def requests_of(api: Api, query: str = "") -> list[dict[str, Any]]:
    response = api.get(f"/sandbox/requests{query}")
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


def populate(api: Api) -> dict[str, str]:
    """A webhook, a refunded intent (keyed), a Created intent, and (sandbox) a pending failure."""
    hook = HOOK if api.key.startswith("sk_sandbox_") else PROD_HOOK
    subscribed = api.post("/webhooks", {"events": ["payment_intent.created", "refund.created"], "url": hook})
    assert subscribed.status_code == 200, subscribed.text
    captured = api.captured_intent(1000)
    refund = api.refund(captured, 300, key="populate-1")
    assert refund.status_code == 200, refund.text
    created = str(api.create_intent(500, captureMode="Manual")["id"])
    if api.key.startswith("sk_sandbox_"):
        failure = {"operation": "capture", "outcome": "declined"}
        injected = api.post(f"/sandbox/payment-intents/{created}/fail-next", failure)
        assert injected.status_code == 200, injected.text
    return {"captured": captured, "created": created, "refund": refund.json()["refundId"]}


def counts(engine: Engine, api_key_env: str, account_id: str) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            table.name: int(
                conn.execute(
                    select(func.count())
                    .select_from(table)
                    .where(table.c.account_id == account_id, table.c.environment == api_key_env)
                ).scalar_one()
            )
            for table in OWNED
        }


def account_of(engine: Engine, intent_id: str) -> str:
    with engine.connect() as conn:
        query = select(payment_intents.c.account_id).where(payment_intents.c.id == intent_id)
        return str(conn.execute(query).scalar_one())


# reset ---------------------------------------------------------------------------------------------


def test_reset_deletes_the_sandbox_account_and_nothing_else(
    both: tuple[Api, Api], other_api: Api, engine: Engine, deps: Dependencies
) -> None:
    sandbox, prod = both
    mine, live, theirs = populate(sandbox), populate(prod), populate(other_api)
    account, other = account_of(engine, mine["captured"]), account_of(engine, theirs["captured"])
    assert deps.request_log is not None
    deps.request_log.flush()  # entries wait in the app's request-log buffer until written
    prod_before, other_before = counts(engine, "prod", account), counts(engine, "sandbox", other)
    assert all(counts(engine, "sandbox", account)[t.name] > 0 for t in OWNED)

    reset = sandbox.post("/sandbox/reset")
    assert reset.status_code == 200, reset.text
    assert reset.json()["deleted"] > 0

    deps.request_log.flush()
    left = counts(engine, "sandbox", account)
    assert left == {**{t.name: 0 for t in OWNED}, "sandbox_requests": 1}  # the reset request itself
    assert [e["path"] for e in requests_of(sandbox)] == ["/sandbox/reset"]
    for intent_id in (mine["captured"], mine["created"]):
        problem(sandbox.get(f"/payment-intents/{intent_id}"), 404)
    problem(sandbox.get(f"/payment-intents/refunds/{mine['refund']}"), 404)
    assert sandbox.get("/webhooks").json() == []

    assert counts(engine, "prod", account) == prod_before
    assert counts(engine, "sandbox", other) == other_before
    assert prod.intent(live["captured"])["refundedAmount"] == 300
    assert other_api.intent(theirs["captured"])["refundedAmount"] == 300
    assert len(other_api.get("/webhooks").json()) == 1 and len(prod.get("/webhooks").json()) == 1


def test_after_reset_keys_and_subscriptions_start_afresh(api: Api) -> None:
    intent_id = api.captured_intent(1000)
    assert api.refund(intent_id, 100, key="again").status_code == 200
    api.post("/webhooks", {"events": ["refund.created"], "url": HOOK})
    assert api.post("/sandbox/reset").status_code == 200
    assert api.post("/webhooks", {"events": ["refund.created"], "url": HOOK}).status_code == 200  # no 409
    fresh = api.captured_intent(1000)
    replay_free = api.refund(fresh, 100, key="again")
    assert replay_free.status_code == 200 and "idempotent-replayed" not in replay_free.headers


def test_reset_is_one_transaction(api: Api, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = populate(api)
    account = account_of(engine, ids["captured"])
    before = counts(engine, "sandbox", account)

    def broken(self: SqlSandboxRepository, account_id: str, offset: timedelta) -> None:
        raise RuntimeError("the store failed after every delete ran")

    monkeypatch.setattr(SqlSandboxRepository, "set_clock_offset", broken)
    assert api.post("/sandbox/reset").status_code == 500
    after = counts(engine, "sandbox", account)
    assert {**after, "sandbox_requests": 0} == {**before, "sandbox_requests": 0}
    assert api.intent(ids["captured"])["refundedAmount"] == 300


# request log ---------------------------------------------------------------------------------------


def test_every_field_of_a_logged_request(api: Api) -> None:
    intent_id = api.captured_intent(1000)
    body = {"amount": 100, "notes": CARD_NOTE}
    first = api.post(f"/payment-intents/{intent_id}/refunds", body, IdempotencyKey="log-1")
    replay = api.post(f"/payment-intents/{intent_id}/refunds", body, IdempotencyKey="log-1")
    assert first.status_code == replay.status_code == 200
    [replayed, original] = requests_of(api, f"?path=/payment-intents/{intent_id}/refunds")
    assert original["method"] == "POST" and original["path"] == f"/payment-intents/{intent_id}/refunds"
    assert (original["status"], original["idempotencyKey"], original["replayed"]) == (200, "log-1", False)
    assert (replayed["replayed"], replayed["idempotencyKey"]) == (True, "log-1")
    assert original["paymentIntentId"] == intent_id
    assert isinstance(original["durationMs"], int) and original["durationMs"] >= 0
    assert original["traceId"] and original["at"].endswith("Z")
    for entry in (original, replayed):
        assert MASKED_NOTE in entry["requestBody"] and MASKED_NOTE in entry["responseBody"]
        assert "4111 1111" not in entry["requestBody"] + entry["responseBody"]
        assert "5200-0000-0000-1005" not in entry["requestBody"] + entry["responseBody"]
    assert original["responseBody"] == first.text.replace(CARD_NOTE, MASKED_NOTE)


def test_errors_are_logged_with_the_bodys_trace_id_and_queries_keep_their_query(api: Api) -> None:
    intent_id = api.captured_intent(1000)
    refused_response = api.refund(intent_id, 5000)
    refused = problem(refused_response, 400)
    looked = api.get(f"/payment-intents/{intent_id}?returnCanceled=true")
    assert looked.status_code == 200
    [read, error] = requests_of(api, "?limit=2")
    assert (error["status"], error["traceId"]) == (400, refused["traceId"])
    assert error["responseBody"] == refused_response.text and error["requestBody"] == '{"amount": 5000}'
    assert (read["method"], read["path"]) == ("GET", f"/payment-intents/{intent_id}?returnCanceled=true")
    assert read["idempotencyKey"] is None and read["requestBody"] == ""
    unauthorised = Api(api.client, "sk_sandbox_nope").get("/sandbox/requests")
    assert unauthorised.status_code == 401


def test_filters_by_path_status_intent_and_limit(api: Api) -> None:
    one, two = api.captured_intent(1000), api.captured_intent(1000)
    api.refund(one, 100)
    api.refund(two, 5000)
    api.get(f"/payment-intents/{two}")
    everything = requests_of(api)
    assert [e["path"] for e in everything] == [
        f"/payment-intents/{two}",
        f"/payment-intents/{two}/refunds",
        f"/payment-intents/{one}/refunds",
        "/payment-intents",
        "/payment-intents",
    ]
    assert all(e["path"] != "/sandbox/requests" for e in everything)  # reading the log is not logged
    assert {e["path"] for e in requests_of(api, "?path=/payment-intents/")} == {
        f"/payment-intents/{one}/refunds",
        f"/payment-intents/{two}/refunds",
        f"/payment-intents/{two}",
    }
    assert [e["path"] for e in requests_of(api, "?status=400")] == [f"/payment-intents/{two}/refunds"]
    assert {e["paymentIntentId"] for e in requests_of(api, f"?intentId={one}")} == {one}
    assert [e["method"] for e in requests_of(api, f"?intentId={one}")] == ["POST", "POST"]  # refund, create
    assert len(requests_of(api, "?limit=1")) == 1
    assert len(requests_of(api, "?limit=" + "0" * 5000 + "1")) == 1  # leading zeros are still a number
    assert requests_of(api, "?path=/webhooks") == []


@pytest.mark.parametrize(
    "query",
    [
        "?status=abc",
        "?status=99",
        "?status=600",
        "?status=",
        "?limit=0",
        "?limit=201",
        "?limit=-1",
        "?limit=1.5",
        "?limit=",
        # Digits of another script (str.isdecimal accepts them) and a number past int()'s limit.
        "?limit=\u0661",
        "?limit=" + "1" * 5000,
        "?status=" + "2" * 5000,
    ],
)
def test_bad_filters_are_400(api: Api, query: str) -> None:
    problem(api.get(f"/sandbox/requests{query}"), 400)


def test_only_the_callers_sandbox_requests_are_logged(
    both: tuple[Api, Api], other_api: Api, engine: Engine
) -> None:
    sandbox, prod = both
    prod.captured_intent(1000)
    other_api.captured_intent(1000)
    own = sandbox.create_intent(1000)["id"]
    assert [e["paymentIntentId"] for e in requests_of(sandbox)] == [own]
    with engine.connect() as conn:
        environments = conn.execute(select(sandbox_requests.c.environment).distinct()).scalars().all()
    assert environments == ["sandbox"]


def test_long_paths_and_keys_are_still_logged(api: Api) -> None:
    api.get("/payment-intents/search?reference=" + "x" * 3000)
    intent_id = api.captured_intent(1000)
    problem(api.refund(intent_id, 100, key="k" * 300), 400)
    [refund, _, search] = requests_of(api)
    assert search["path"].startswith("/payment-intents/search?reference=xxx")
    assert refund["status"] == 400 and refund["idempotencyKey"].startswith("kkk")


def test_retention_reaps_old_entries(api: Api, deps: Dependencies) -> None:
    api.create_intent(1000)
    assert reap_request_log(dataclasses.replace(deps, request_log_retention=timedelta(hours=1))) == 0
    assert len(requests_of(api)) == 1
    time.sleep(0.02)
    assert reap_request_log(dataclasses.replace(deps, request_log_retention=timedelta(milliseconds=10))) == 1
    assert requests_of(api) == []
