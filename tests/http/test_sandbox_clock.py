"""The sandbox account clock over HTTP, on both stores (docs/sandbox.md): ``GET /sandbox/clock``
and ``POST /sandbox/clock/advance`` (by seconds or to a time, forward only), and what an advance runs
for the account: ``expireAt`` cancellations with their outbox event and webhook delivery, the 7-day
release and ``autoExpireAction: Capture``, the reversal window, idempotency-key retention and the
webhook retry schedule. One account's clock never moves another account's or production's; reset
returns it to real time. The app uses the real SystemClock, so this is real time travel.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select, update
from starlette.testclient import TestClient

from payintents.adapters.sql.engine import make_engine
from payintents.adapters.sql.schema import outbox_events, webhook_deliveries
from payintents.service.accounts import create_account
from payintents.service.dependencies import Dependencies
from tests.support import Api

DAY = 86_400
SLACK = timedelta(seconds=30)  # how far "now" may drift during a test


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url, pool_size=1)
    yield engine
    engine.dispose()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def near(moment: datetime, expected: datetime) -> bool:
    return abs(moment - expected) < SLACK


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = dict(response.json())
    assert body["status"] == status and body["traceId"], body
    return body


def advance(api: Api, **body: Any) -> dict[str, Any]:
    response = api.post("/sandbox/clock/advance", body)
    assert response.status_code == 200, response.text
    return dict(response.json())


def clock(api: Api) -> dict[str, Any]:
    response = api.get("/sandbox/clock")
    assert response.status_code == 200, response.text
    return dict(response.json())


def manual_authorized(api: Api, **fields: Any) -> str:
    intent_id = str(api.create_intent(1000, captureMode="Manual", **fields)["id"])
    paid = api.pay(intent_id)
    assert paid.status_code == 200 and paid.json()["status"] == "Authorized", paid.text
    return intent_id


def status_events(engine: Engine, intent_id: str) -> list[tuple[str, dict[str, Any]]]:
    query = (
        select(outbox_events.c.id, outbox_events.c.payload)
        .where(
            outbox_events.c.payment_intent_id == intent_id,
            outbox_events.c.name == "payment_intent.status_updated",
        )
        .order_by(outbox_events.c.created_at)
    )  # without an order PostgreSQL may answer in any
    with engine.connect() as conn:
        return [(row[0], json.loads(row[1])) for row in conn.execute(query)]


def test_clock_starts_at_real_time(api: Api) -> None:
    shown = clock(api)
    assert shown["offsetSeconds"] == 0
    assert near(at(shown["now"]), datetime.now(UTC))


def test_advance_by_seconds_and_to_a_time(api: Api) -> None:
    moved = advance(api, seconds=3600)
    assert moved["offsetSeconds"] == 3600
    assert near(at(moved["now"]), datetime.now(UTC) + timedelta(hours=1))
    assert {"intentsExpired", "keysReaped", "webhookRetriesMoved"} <= set(moved)
    assert clock(api)["offsetSeconds"] == 3600

    target = datetime.now(UTC) + timedelta(days=2)
    moved = advance(api, to=target.isoformat().replace("+00:00", "Z"))
    assert near(at(moved["now"]), target)
    assert abs(moved["offsetSeconds"] - 2 * DAY) < SLACK.total_seconds()
    assert near(at(clock(api)["now"]), target)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"seconds": -1},
        {"seconds": 1.5},
        {"seconds": "60"},
        {"to": "2001-01-01T00:00:00Z"},
        {"to": "tomorrow"},
        {"seconds": 60, "to": "2999-01-01T00:00:00Z"},
        {"seconds": 60, "colour": "red"},
        {"seconds": 11 * 365 * DAY},
    ],
)
def test_bad_advances_are_400_and_move_nothing(api: Api, body: dict[str, Any]) -> None:
    advance(api, seconds=600)
    problem(api.post("/sandbox/clock/advance", body), 400)
    assert clock(api)["offsetSeconds"] == 600


def test_the_clock_never_moves_backwards(api: Api) -> None:
    advance(api, seconds=DAY)
    an_hour_ahead = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    problem(api.post("/sandbox/clock/advance", {"to": an_hour_ahead}), 400)
    assert clock(api)["offsetSeconds"] == DAY


def test_31_days_cancel_a_created_intent_with_event_and_delivery(api: Api, engine: Engine) -> None:
    subscription = api.post(
        "/webhooks", {"events": ["payment_intent.status_updated"], "url": "http://127.0.0.1:9/hook"}
    )
    assert subscription.status_code == 200, subscription.text
    intent_id = api.create_intent(1000)["id"]
    fresh = api.create_intent(1000, expireAt=(datetime.now(UTC) + timedelta(days=60)).isoformat())["id"]
    moved = advance(api, seconds=31 * DAY)
    assert moved["intentsExpired"] == 1
    assert api.intent(intent_id)["status"] == "Canceled"
    assert api.intent(fresh)["status"] == "Created"
    [(event_id, payload)] = status_events(engine, intent_id)
    assert payload["paymentStatus"] == "Canceled"
    with engine.connect() as conn:
        [delivery] = conn.execute(select(webhook_deliveries).where(webhook_deliveries.c.event_id == event_id))
    assert delivery.subscription_id == subscription.json()["id"] and delivery.status == "pending"
    # Dispatchers run on real time: the delivery must be due now, not 31 days from now.
    assert delivery.next_attempt_at <= datetime.now(UTC)


def test_7_days_release_a_manual_intent_or_capture_it(api: Api, engine: Engine) -> None:
    released = manual_authorized(api)
    captured = manual_authorized(api, autoExpireAction="Capture")
    early = advance(api, seconds=6 * DAY)
    assert early["intentsExpired"] == 0 and api.intent(released)["status"] == "Authorized"
    assert advance(api, seconds=DAY + 60)["intentsExpired"] == 2
    assert api.intent(released)["status"] == "Reversed"
    after = api.intent(captured)
    assert after["status"] == "Captured" and [c["amount"] for c in after["captures"]] == [1000]
    assert [p["paymentStatus"] for _, p in status_events(engine, released)] == ["Authorized", "Reversed"]
    assert api.refund(captured, 1000).status_code == 200


def test_a_payment_after_an_advance_happens_at_account_time(api: Api) -> None:
    advance(api, seconds=8 * DAY)
    intent_id = manual_authorized(api)
    [authorized] = api.intent(intent_id)["paymentEvents"]
    assert near(at(authorized["transactionDateTime"]), datetime.now(UTC) + timedelta(days=8))
    assert api.post(f"/payment-intents/{intent_id}/reversal").status_code == 200


def test_yesterdays_auto_capture_can_no_longer_be_reversed(api: Api) -> None:
    intent_id = api.captured_intent(1000)
    advance(api, seconds=DAY)
    problem(api.post(f"/payment-intents/{intent_id}/reversal"), 409)
    assert api.intent(intent_id)["status"] == "Captured"


def test_advance_past_retention_reaps_idempotency_keys(api: Api) -> None:
    intent_id = api.captured_intent(1000)
    assert api.refund(intent_id, 100, key="order-7").status_code == 200
    advance(api, seconds=71 * 3600)
    kept = api.refund(intent_id, 100, key="order-7")
    assert kept.headers.get("idempotent-replayed") == "true"
    assert advance(api, seconds=2 * 3600)["keysReaped"] >= 1
    again = api.refund(intent_id, 100, key="order-7")
    assert again.status_code == 200 and "idempotent-replayed" not in again.headers
    assert api.intent(intent_id)["refundedAmount"] == 200


def test_advance_moves_pending_webhook_retries_forward(api: Api, engine: Engine) -> None:
    api.post("/webhooks", {"events": ["payment_intent.created"], "url": "http://127.0.0.1:9/hook"})
    api.create_intent(1000)
    in_two_hours = datetime.now(UTC) + timedelta(hours=2)
    with engine.begin() as conn:
        conn.execute(update(webhook_deliveries).values(next_attempt_at=in_two_hours))
    assert advance(api, seconds=3 * 3600)["webhookRetriesMoved"] == 1
    with engine.connect() as conn:
        [due] = conn.execute(select(webhook_deliveries.c.next_attempt_at)).scalars()
    assert near(due, in_two_hours - timedelta(hours=3))


def test_one_accounts_clock_moves_nobody_else(other_api: Api, client: TestClient, deps: Dependencies) -> None:
    account = create_account(deps, "both environments")
    sandbox, prod = Api(client, account.sandbox_key), Api(client, account.prod_key)
    theirs = other_api.create_intent(1000)["id"]
    mine_in_prod = prod.create_intent(1000)["id"]
    advance(sandbox, seconds=40 * DAY)
    now = datetime.now(UTC)
    assert near(at(sandbox.create_intent(1000)["createdAt"]), now + timedelta(days=40))
    assert near(at(other_api.create_intent(1000)["createdAt"]), now)
    assert near(at(prod.create_intent(1000)["createdAt"]), now)
    assert other_api.intent(theirs)["status"] == "Created"
    assert prod.intent(mine_in_prod)["status"] == "Created"
    assert clock(other_api)["offsetSeconds"] == 0


def test_reset_returns_the_clock_to_real_time(api: Api) -> None:
    advance(api, seconds=5 * DAY)
    assert api.post("/sandbox/reset").status_code == 200
    shown = clock(api)
    assert shown["offsetSeconds"] == 0 and near(at(shown["now"]), datetime.now(UTC))
    assert near(at(api.create_intent(1000)["createdAt"]), datetime.now(UTC))
