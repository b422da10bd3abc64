"""The dashboard's customers and a customer's saved cards (ADR 0028), on both stores; another
account's customer is not found."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from tests.dashboard.support import Dashboard, text_of
from tests.support import SUCCESS_CARD, Api


@pytest.fixture
def browser(client: TestClient, api: Api) -> Dashboard:
    signed_in = Dashboard(client)
    signed_in.sign_in_with_key(api.key)
    return signed_in


def test_a_customers_saved_cards_are_listed(api: Api, other_api: Api, browser: Dashboard) -> None:
    customer = api.post("/customers", {"name": "Alex Doe", "emailAddress": "alex@example.com"}).json()["id"]
    intent = api.create_intent(customer={"id": customer})
    paid = api.client.post(f"/checkout/{intent['id']}/pay", json={**SUCCESS_CARD, "saveCard": True})
    assert paid.status_code == 200, paid.text
    listed = text_of(browser.get("/dashboard/customers").text)
    assert "Alex Doe alex@example.com" in listed
    detail = browser.get(f"/dashboard/customers/{customer}")
    assert detail.status_code == 200
    words = text_of(detail.text)
    assert "Saved cards" in words and "520000******1005 MASTERCARD 2029-12" in words
    theirs = other_api.post("/customers", {"name": "Someone else"}).json()["id"]
    assert browser.get(f"/dashboard/customers/{theirs}").status_code == 404
    assert browser.get("/dashboard/customers/not%20an%20id").status_code == 404
