"""A payment's detail page on both stores: amounts in the currency, status history, captures,
refunds with who asked for them, webhook deliveries; and 404 for any payment not in the signed-in
account and environment, whatever id is typed into the URL."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from payintents.service.accounts import create_account
from payintents.service.dependencies import Dependencies
from tests.dashboard.support import Dashboard, new_user, text_of
from tests.support import Api


@pytest.fixture
def browser(client: TestClient, api: Api) -> Dashboard:
    signed_in = Dashboard(client)
    signed_in.sign_in_with_key(api.key)
    return signed_in


def test_a_manual_payment_shows_its_amounts_history_and_captures(api: Api, browser: Dashboard) -> None:
    intent_id = str(api.create_intent(5000, reference="Table 12", captureMode="Manual")["id"])
    assert api.pay(intent_id).status_code == 200
    capture = api.post(f"/payment-intents/{intent_id}/captures", {"amount": 3000})
    assert capture.status_code == 200, capture.text
    page = browser.get(f"/dashboard/payments/{intent_id}")
    assert page.status_code == 200
    words = text_of(page.text)
    assert "Payment Table 12 Captured" in words
    assert "Amount £50.00 Total £50.00 Captured £30.00 Refunded £0.00 Remaining refundable £30.00" in words
    history = words[words.index("Status history") : words.index("Captures")]
    assert history.index("Created") < history.index("Authorized") < history.index("Captured")
    assert "card 520000******1005" in history
    captures = words[words.index("Captures") :]
    assert f"£30.00 — Successful {capture.json()['captureId']}" in captures
    assert "Refund this payment" in words


def test_refunds_show_amount_reason_notes_and_who_asked(api: Api, browser: Dashboard) -> None:
    intent_id = api.captured_intent(2000, reference="Order 9")
    refund = api.refund(intent_id, 500, refundReason="damaged", notes="box crushed")
    assert refund.status_code == 200
    assert browser.refund(intent_id, "2.50", reason="late", notes="via phone").status_code == 303
    words = text_of(browser.get(f"/dashboard/payments/{intent_id}").text)
    assert "Refunded £7.50 Remaining refundable £12.50" in words
    refunds = words[words.index("Refunds When") :]
    assert f"£5.00 damaged box crushed API {refund.json()['refundId']}" in refunds
    assert "£2.50 late via phone dashboard: API key" in refunds


def test_a_user_refund_names_the_user(client: TestClient, deps: Dependencies) -> None:
    account = create_account(deps, "merchant")
    api = Api(client, account.prod_key)
    intent_id = api.captured_intent(1000)
    browser = Dashboard(client)
    browser.sign_in_as(new_user(deps, account.account_id, "bob.smith"))
    assert browser.refund(intent_id, "1.00").status_code == 303
    assert "£1.00 — — dashboard: bob.smith" in text_of(browser.get(f"/dashboard/payments/{intent_id}").text)


def test_euro_payments_are_shown_in_euros(api: Api, browser: Dashboard) -> None:
    body = {"amount": {"value": 123456, "currencyCode": "EUR"}, "reference": "Euro order"}
    intent_id = str(api.post("/payment-intents", body).json()["id"])
    assert "Amount €1,234.56" in text_of(browser.get(f"/dashboard/payments/{intent_id}").text)


def test_webhook_deliveries_of_the_payment_are_listed(api: Api, browser: Dashboard) -> None:
    events = ["payment_intent.created", "payment_intent.status_updated", "refund.created"]
    assert api.post("/webhooks", {"events": events, "url": "http://127.0.0.1:9/hook"}).status_code == 200
    intent_id = api.captured_intent(1000)
    api.refund(intent_id, 100)
    api.captured_intent(1000)  # another payment's deliveries stay on its own page
    words = text_of(browser.get(f"/dashboard/payments/{intent_id}").text)
    deliveries = words[words.index("Webhook deliveries") :]
    # created, status updated (an Auto payment goes straight to Captured), refund.created
    assert deliveries.count("pending") == 3
    for name in events:
        assert deliveries.count(name) == 1


def test_canceled_payments_are_still_shown(api: Api, browser: Dashboard) -> None:
    intent_id = str(api.create_intent(1000)["id"])
    assert api.client.delete(f"/payment-intents/{intent_id}", headers=api.headers()).status_code == 200
    page = browser.get(f"/dashboard/payments/{intent_id}")
    assert page.status_code == 200 and "Canceled" in text_of(page.text)
    assert "Refund this payment" not in page.text


def test_another_accounts_payment_is_not_found(other_api: Api, browser: Dashboard) -> None:
    theirs = other_api.captured_intent(1000, reference="Secret order")
    for path in (f"/dashboard/payments/{theirs}", f"/dashboard/payments/{theirs}/refund"):
        page = browser.get(path)
        assert page.status_code == 404
        assert "Secret order" not in page.text
        assert "There is no such page or payment in this account." in text_of(page.text)


def test_the_other_environments_payment_is_not_found(client: TestClient, deps: Dependencies) -> None:
    account = create_account(deps, "merchant")
    sandbox_intent = Api(client, account.sandbox_key).captured_intent(1000)
    browser = Dashboard(client)
    browser.sign_in_with_key(account.prod_key)
    assert browser.get(f"/dashboard/payments/{sandbox_intent}").status_code == 404


@pytest.mark.parametrize("intent_id", ["pi_sandbox_doesnotexist0000000000", "x" * 300, "%00", "pi_'--"])
def test_unknown_ids_are_not_found(browser: Dashboard, intent_id: str) -> None:
    assert browser.get(f"/dashboard/payments/{intent_id}").status_code == 404
    assert browser.get(f"/dashboard/payments/{intent_id}/refund").status_code == 404


def test_pages_carry_security_headers(api: Api, browser: Dashboard) -> None:
    page = browser.get(f"/dashboard/payments/{api.captured_intent(1000)}")
    assert page.headers["content-type"].startswith("text/html")
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-content-type-options"] == "nosniff"


def test_references_are_escaped(api: Api, browser: Dashboard) -> None:
    intent_id = api.captured_intent(1000, reference="<script>alert(1)</script>")
    page = browser.get(f"/dashboard/payments/{intent_id}")
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
