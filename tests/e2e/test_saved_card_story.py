"""A card saved once and charged later, end to end (ADR 0028), against a real ``payintents serve``
on SQLite and on PostgreSQL (one server per database for the module), with Debian's headless
chromium as the shopper:

create a customer → a setup intent for them → the shopper saves the 3-D Secure test card on the
hosted card form and authenticates → the card is the customer's saved payment method (masked) →
a payment intent made with the setup intent's id is charged later by the merchant alone → it is
Captured for the full amount → a partial and a final refund take it to Refunded → the
customer's card list and the payment's state read back through the API. A second shopper ticks
"Save this card" on a payment's checkout; a third pays a later payment by picking the card
saved on the first on the checkout page; and a merchant-initiated charge of the card whose
charges are declined is refused and leaves the intent unpaid.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.browser import BROWSER_TEST_MARKS, CHROMIUM, CHROMIUM_ARGS
from tests.support import SUCCESS_CARD, Api, RunningServer, backend_database_url, running_server

pytestmark = BROWSER_TEST_MARKS
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")

SETUP = {
    "reference": "Table 4 on Friday",
    "merchantInitiatedTransactionType": "NoShow",
    "terms": "A no-show costs the £25.00 booking fee.",
    "intendedAmount": {"value": 2500, "currencyCode": "GBP"},
    "config": {"title": "Dojo Cafe"},
}


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    folder = tmp_path_factory.mktemp("saved-card-story")
    with backend_database_url(request.param, folder, "story") as url, running_server(url, folder) as started:
        yield started


@pytest.fixture(scope="module")
def api(server: RunningServer) -> Iterator[Api]:
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        yield Api(http, server.new_account()["sandboxKey"])


@pytest.fixture(scope="module")
def tab(server: RunningServer) -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(base_url=server.base_url)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        # A page's own status is the test's to check; its scripts and stylesheets must load, and
        # no other console error (a CSP violation, a script error) may appear.
        page.on("console", lambda message: errors.append(message.text) if _counts(message) else None)
        page.on(
            "response", lambda response: errors.append(response.url) if _failed_resource(response) else None
        )
        yield page
        browser.close()
        assert errors == []


def _counts(message: Any) -> bool:
    return bool(message.type == "error" and not message.text.startswith("Failed to load resource"))


def _failed_resource(response: Any) -> bool:
    return bool(response.request.resource_type != "document" and response.status != 200)


def saved_cards(api: Api, customer_id: str) -> list[dict[str, Any]]:
    secret = api.post(f"/customers/{customer_id}/create-secret").json()["secret"]
    headers = {"Authorization": f"Basic {secret}", "Version": "2024-02-05"}
    listed = api.client.get(f"/customers/public/{customer_id}/payment-methods", headers=headers)
    assert listed.status_code == 200, listed.text
    return list(listed.json()["savedPaymentMethods"])


def test_save_a_card_with_3ds_then_charge_it_later_and_refund(api: Api, tab: Any) -> None:
    customer = api.post("/customers", {"name": "Alex", "emailAddress": "alex@example.com"}).json()["id"]
    setup = api.post("/setup-intents", {**SETUP, "customer": {"id": customer}}).json()
    tab.goto(f"/setup/{setup['id']}")
    assert tab.get_by_role("heading", level=1).inner_text() == "Save a card"
    assert "no-show costs" in tab.locator("#terms").inner_text()
    tab.get_by_label("Card number").fill("5200 0000 0000 1096")
    tab.get_by_label("Expiry date").fill("12/29")
    tab.get_by_label("Security code").fill("020")
    tab.get_by_role("button", name="Save card").click()
    tab.wait_for_url(f"**/setup/{setup['id']}/challenge")
    tab.get_by_role("button", name="Authenticate").click()
    tab.wait_for_url(f"**/setup/{setup['id']}")
    assert tab.get_by_role("heading", level=1).inner_text() == "Card saved"

    authorized = api.get(f"/setup-intents/{setup['id']}").json()
    assert authorized["status"] == "Authorized"
    cards = saved_cards(api, customer)
    assert [c["cardDetails"] for c in cards] == [
        {"pan": "520000******1096", "expiryDate": "2029-12-31", "scheme": "MASTERCARD"}
    ]
    assert cards[0]["id"] == authorized["paymentDetails"]["paymentMethodId"]

    later = api.create_intent(2500, reference="No-show fee", setupIntentId=setup["id"])
    charged = api.post(f"/payment-intents/{later['id']}/charge", IdempotencyKey="no-show-1")
    assert charged.status_code == 200, charged.text
    assert charged.json() == {"paymentIntentId": later["id"], "status": "Successful", "message": "DEPOSITED"}
    replayed = api.post(f"/payment-intents/{later['id']}/charge", IdempotencyKey="no-show-1")
    assert replayed.json() == charged.json() and replayed.headers["Idempotent-Replayed"] == "true"
    paid = api.intent(later["id"])
    assert paid["status"] == "Captured" and paid["captures"][0]["amount"] == 2500
    assert api.get(f"/setup-intents/{setup['id']}").json()["status"] == "Completed"

    assert api.refund(later["id"], 1000).status_code == 200
    assert api.refund(later["id"], 1500).status_code == 200
    refunded = api.intent(later["id"])
    assert (refunded["status"], refunded["refundedAmount"]) == ("Refunded", 2500)
    assert api.refund(later["id"], 1).status_code == 400


def test_save_this_card_at_a_payments_checkout(api: Api, tab: Any) -> None:
    customer = api.post("/customers", {"name": "Sam"}).json()["id"]
    intent = api.create_intent(1200, customer={"id": customer})
    tab.goto(f"/checkout/{intent['id']}")
    tab.get_by_label("Card number").fill("5200 0000 0000 1005")
    tab.get_by_label("Expiry date").fill("12/29")
    tab.get_by_label("Security code").fill("020")
    tab.get_by_label("Save this card for next time").check()
    tab.get_by_role("button", name="Pay £12.00").click()
    tab.wait_for_url(f"**/checkout/{intent['id']}")
    assert api.intent(intent["id"])["status"] == "Captured"
    assert [c["cardDetails"]["pan"] for c in saved_cards(api, customer)] == ["520000******1005"]
    without_customer = api.create_intent(1200)
    tab.goto(f"/checkout/{without_customer['id']}")
    assert tab.get_by_label("Save this card for next time").count() == 0


def test_the_shopper_pays_again_with_the_saved_card_on_the_page(api: Api, tab: Any) -> None:
    customer = api.post("/customers", {"name": "Robin"}).json()["id"]
    first = api.create_intent(800, customer={"id": customer})
    saved = api.client.post(f"/checkout/{first['id']}/pay", json={**SUCCESS_CARD, "saveCard": True})
    assert saved.json()["status"] == "Captured", saved.text
    [card] = saved_cards(api, customer)
    intent = api.create_intent(1500, customer={"id": customer})
    tab.goto(f"/checkout/{intent['id']}")
    choice = tab.get_by_label("MASTERCARD 520000******1005, expires 12/29")
    assert choice.is_checked()
    tab.get_by_role("button", name="Pay with saved card").click()
    tab.wait_for_url(f"**/checkout/{intent['id']}")
    assert tab.get_by_role("heading", level=1).inner_text() == "Payment received"
    paid = api.intent(intent["id"])
    assert (paid["status"], paid["paymentDetails"]["paymentMethodId"]) == ("Captured", card["id"])
    assert paid["captures"][0]["amount"] == 1500


def test_a_card_whose_charges_are_declined_leaves_the_intent_unpaid(api: Api) -> None:
    setup = api.post("/setup-intents", SETUP).json()
    saved = api.client.post(
        f"/setup/{setup['id']}/save",
        json={"cardNumber": "4111110000000135", "expiryDate": "12/29", "cvv": "123"},
    )
    assert saved.json()["status"] == "Authorized", saved.text
    later = api.create_intent(2500, setupIntentId=setup["id"])
    declined = api.post(f"/payment-intents/{later['id']}/charge")
    assert declined.status_code == 400 and "declined" in declined.json()["detail"]
    assert api.intent(later["id"])["status"] == "Created"
