"""Sandbox time travel end to end (docs/sandbox.md, "The account clock"): a real ``payintents
serve`` with 2 worker processes and its built-in dispatcher, on SQLite and PostgreSQL, and a real
webhook receiver on 127.0.0.1 (tests/e2e/webhook_receiver.py, a small http.server).

Advancing the account clock by 7 days releases an Authorized Manual intent (Reversed); a further 24
days cancel an intent that was never paid (expireAt, default 30 days). Both status changes arrive
at the receiver as signed ``payment_intent.status_updated`` webhooks, although the dispatcher runs on
real time. Every later request, whichever worker answers it, sees the moved clock: the offset lives
in the database, not in a process.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.webhook_receiver import WebhookReceiver, dojo_signature_ok, running_receiver, subscribe
from tests.support import Api, RunningServer, running_server

pytestmark = pytest.mark.e2e

DAY = 86_400
DELIVERY_WAIT_S = 20.0
REQUESTS_PER_CHECK = 12  # enough that both workers answer some of them


@pytest.fixture
def server(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningServer]:
    monkeypatch.delenv("PAYINTENTS_DISPATCHER", raising=False)  # the built-in dispatcher delivers
    with running_server(database_url, tmp_path, workers=2) as running:
        yield running


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with running_receiver() as running:
        yield running


@pytest.fixture
def api(server: RunningServer) -> Iterator[Api]:
    account = server.new_account()
    # A fresh connection per request, so the kernel spreads requests over both workers.
    with httpx.Client(
        base_url=server.base_url, timeout=10, limits=httpx.Limits(max_keepalive_connections=0)
    ) as c:
        yield Api(c, account["sandboxKey"])


def advance(api: Api, seconds: int) -> dict[str, Any]:
    response = api.post("/sandbox/clock/advance", {"seconds": seconds})
    assert response.status_code == 200, response.text
    return dict(response.json())


def status_updates(receiver: WebhookReceiver, secret: str) -> dict[str, list[str]]:
    """paymentIntentId → the statuses delivered for it, in arrival order (signatures checked)."""
    seen: dict[str, list[str]] = {}
    for received in receiver.delivered():
        assert dojo_signature_ok(secret, received.body, received.headers["dojo-signature"])
        body = json.loads(received.body)
        if body["event"] == "payment_intent.status_updated":
            seen.setdefault(body["data"]["paymentIntentId"], []).append(body["data"]["paymentStatus"])
    return seen


def wait_for_status(receiver: WebhookReceiver, secret: str, intent_id: str, status: str) -> list[str]:
    """Wait until ``status`` was delivered for the intent; returns every status delivered for it."""
    deadline = time.monotonic() + DELIVERY_WAIT_S
    while status not in status_updates(receiver, secret).get(intent_id, []) and time.monotonic() < deadline:
        time.sleep(0.05)
    return status_updates(receiver, secret).get(intent_id, [])


def test_advancing_31_days_releases_and_cancels_with_webhooks_across_workers(
    api: Api, receiver: WebhookReceiver
) -> None:
    subscription = subscribe(api, receiver.url.replace("/hooks", "/hook"), ["payment_intent.status_updated"])
    secret = subscription["secrets"][0]["value"]
    unpaid = str(api.create_intent(1000)["id"])
    manual = str(api.create_intent(2500, captureMode="Manual")["id"])
    paid = api.pay(manual)
    assert paid.status_code == 200 and paid.json()["status"] == "Authorized", paid.text
    assert wait_for_status(receiver, secret, manual, "Authorized") == ["Authorized"]

    released = advance(api, 7 * DAY + 60)
    assert released["intentsExpired"] == 1
    assert api.intent(manual)["status"] == "Reversed"
    assert api.intent(unpaid)["status"] == "Created"
    assert wait_for_status(receiver, secret, manual, "Reversed") == ["Authorized", "Reversed"]

    canceled = advance(api, 24 * DAY)
    assert canceled["intentsExpired"] == 1 and canceled["offsetSeconds"] == 31 * DAY + 60
    assert api.intent(unpaid)["status"] == "Canceled"
    assert wait_for_status(receiver, secret, unpaid, "Canceled") == ["Canceled"]
    assert all(r.path == "/hook" for r in receiver.delivered())

    # Whichever worker answers, the account's clock is 31 days ahead.
    expected = datetime.now(UTC) + timedelta(days=31)
    for _ in range(REQUESTS_PER_CHECK):
        shown = api.get("/sandbox/clock").json()
        assert shown["offsetSeconds"] == 31 * DAY + 60
        created = api.create_intent(100)["createdAt"]
        assert abs(datetime.fromisoformat(created.replace("Z", "+00:00")) - expected) < timedelta(minutes=2)

    assert api.post("/sandbox/reset").status_code == 200
    for _ in range(REQUESTS_PER_CHECK):
        assert api.get("/sandbox/clock").json()["offsetSeconds"] == 0
