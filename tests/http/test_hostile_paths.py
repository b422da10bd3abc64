"""NUL characters in a path or query answer 404 / 400 in Dojo's shape on both stores, never a 500
(PostgreSQL cannot even compare text containing NUL)."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from tests.support import Api

NUL_PATHS = [
    ("GET", "/payment-intents/pi_%00x"),
    ("DELETE", "/payment-intents/pi_%00x"),
    ("POST", "/payment-intents/pi_%00x/reversal"),
    ("GET", "/payment-intents/pi_%00x/refunds"),
    ("GET", "/payment-intents/refunds/rfnd_%00"),
    ("PATCH", "/webhooks/ws_%00"),
    ("DELETE", "/webhooks/ws_%00"),
    ("GET", "/webhooks/ws_%00/secrets"),
    ("POST", "/webhooks/deliveries/evt_%00/retry"),
    ("POST", "/checkout/pi_%00x/pay"),
    # GET /checkout/pi_%00x is the shopper's page: an HTML 404 (tests/http/test_checkout.py).
]


@pytest.mark.parametrize(("method", "path"), NUL_PATHS)
def test_nul_in_a_path_is_not_found(api: Api, method: str, path: str) -> None:
    response = api.client.request(method, path, headers=api.headers(), json={} if method != "GET" else None)
    assert response.status_code == 404, response.text
    body = response.json()
    assert body["status"] == 404 and body["traceId"].startswith("00-")


def test_nul_in_a_query_is_refused(api: Api) -> None:
    intent_id = api.create_intent()["id"]
    response = api.get(f"/payment-intents/{intent_id}?returnCanceled=true%00")
    assert response.status_code == 400, response.text
    assert api.get("/sandbox/requests?intentId=pi_%00").status_code == 400


def test_a_trailing_slash_is_a_404_not_a_redirect(api: Api) -> None:
    intent_id = api.captured_intent()
    answer = api.post(f"/payment-intents/{intent_id}/refunds/", {"amount": 10}, IdempotencyKey="slash")
    assert answer.status_code == 404 and "location" not in answer.headers
    assert answer.json()["status"] == 404
    assert api.get(f"/payment-intents/{intent_id}/refunds").json()["data"] == []  # nothing refunded


def test_the_dashboard_entry_still_redirects(client: TestClient) -> None:
    answer = client.get("/dashboard", follow_redirects=False)
    assert answer.status_code == 307 and answer.headers["location"] == "/dashboard/"
